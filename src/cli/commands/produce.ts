import { readSettings } from '../../config/settings.js';
import { TracestreamError } from '../../errors/index.js';
import { createProducer, type OutgoingRecord } from '../../kafka/index.js';
import { DEFAULT_TRACE_TOPICS, readSolutions } from '../../topology/index.js';
import type { AvroCodec, SolutionSubmitted } from '../../avro/index.js';
import type { KafkaClientConfig } from '../../kafka/index.js';
import { parseArgs } from '../args.js';
import type { Command } from '../command.js';
import { connect } from '../connect.js';

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

export const produceCommand: Command = {
  name: 'produce',
  summary: 'Send solutions (a dir of .py, a .jsonl file, or - for stdin) to the solutions topic',
  usage: [
    'tracestream produce <DIR | FILE.jsonl | FILE.py | -> [--topic solutions] [--brokers host:port]',
    '',
    'Each solution becomes one SolutionSubmitted event keyed by its id. Needs a cluster:',
    '--brokers / KAFKA_BROKERS (start one with `tracestream broker`).',
  ].join('\n'),
  async run(argv) {
    const { positionals, flags } = parseArgs(argv);
    const [input, ...extra] = positionals;
    if (input === undefined || extra.length > 0) throw new TracestreamError('CONFIG_INVALID', `usage: ${produceCommand.usage.split('\n')[0]}`);
    const settings = readSettings(flags);
    if (settings.kafkaBrokers === undefined) {
      throw new TracestreamError('CONFIG_INVALID', 'produce needs a cluster: set --brokers or KAFKA_BROKERS (an embedded broker would vanish when produce exits; start one with `tracestream broker`)');
    }
    const topic = typeof flags['topic'] === 'string' ? flags['topic'] : DEFAULT_TRACE_TOPICS.solutions;
    const connection = await connect(settings);
    try {
      const count = await produceSolutions(connection.client, connection.codec, topic, readSolutions(input));
      process.stdout.write(`produced ${count} solutions to ${topic}\n`);
    } finally {
      await connection.close();
    }
    return 0;
  },
};
