import type { AvroCodec, SolutionSubmitted } from '../avro/index.js';
import { createProducer, type KafkaClientConfig, type OutgoingRecord } from '../kafka/index.js';

const BATCH = 500;

/** Sends solutions as `SolutionSubmitted` events keyed by solution id; resolves once all are delivered. */
export async function produceSolutions(
  client: KafkaClientConfig,
  codec: AvroCodec,
  topic: string,
  solutions: AsyncIterable<SolutionSubmitted> | Iterable<SolutionSubmitted>,
  onSolution?: (solution: SolutionSubmitted) => void,
): Promise<number> {
  const producer = await createProducer({ client });
  let count = 0;
  try {
    let batch: OutgoingRecord[] = [];
    for await (const solution of solutions) {
      batch.push({ topic, key: solution.solutionId, value: await codec.encode('SolutionSubmitted', solution) });
      onSolution?.(solution);
      count++;
      if (batch.length >= BATCH) {
        await producer.send(batch);
        batch = [];
      }
    }
    await producer.send(batch);
  } finally {
    await producer.close();
  }
  return count;
}
