import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { createAvroCodec, openSchemaRegistry, type AvroCodec, type ExecutionTrace, type SchemaRegistry } from '../../src/avro/index.js';
import { splitOf } from '../../src/dataset/splits.js';
import { startCli, type CliProcess } from '../helpers/cli-process.js';
import { useKafkaFixture, type KafkaFixture } from '../kafka/support.js';
import { counterTrace } from './fixtures.js';

/** A model small enough to train on the CPU backend in a test: a checkpoint (and an evaluation) every 2 steps. */
export const TINY_TRAIN_FLAGS = ['--backend', 'cpu', '--layers', '1', '--width', '16', '--heads', '2', '--context', '32', '--batch', '2',
  '--eval-runs', '2', '--eval-records', '4', '--checkpoint-every-tokens', '128'] as const;
/** Tokens one optimizer step of TINY_TRAIN_FLAGS trains on: batch × context. */
export const TINY_TOKENS_PER_STEP = 2 * 32;

/** What a test of the trainer against a broker starts with; filled in before its tests run. */
export interface TrainFixture {
  kafka: KafkaFixture;
  registry: SchemaRegistry;
  codec: AvroCodec;
  /** A checkpoint folder of its own, removed after the tests. */
  dir: string;
  /** Ten problem ids that splitOf puts in `train`, and one in `validation` (held out). */
  trainProblems: string[];
  validationProblem: string;
  /** Produces the traces, Avro-encoded, to partition 0 of `traces`. */
  send(traces: readonly ExecutionTrace[]): Promise<void>;
  /** `count` held-out runs of the validation problem: counting loops of 2, 3, ... iterations. */
  heldOutTraces(count: number): ExecutionTrace[];
  /** `count` training runs spread over the train problems: counting loops of 1 to 4 iterations. */
  trainingTraces(count: number): ExecutionTrace[];
  /** Starts `tracestream train` on the checkpoint folder with TINY_TRAIN_FLAGS, stopped (if still running) after the tests. */
  startTrain(args: readonly string[], options?: { brokersFrom: 'flag' | 'env' }): CliProcess;
}

/**
 * The set-up every test of the trainer against a broker shares, for the enclosing `describe`: a
 * broker and producer (useKafkaFixture), the schema registry on it, a checkpoint folder, problem
 * ids of both splits named after `prefix`, and `tracestream train` processes that are stopped
 * before the broker is.
 */
export function useTrainFixture(prefix: string, use: (fixture: TrainFixture) => void): void {
  let fixture: TrainFixture | undefined;
  const processes: CliProcess[] = [];
  // Registered before useKafkaFixture's, so it runs first: trainers stop while their broker is up.
  after(async () => {
    for (const child of processes) await child.stop();
    await fixture?.registry.close();
    if (fixture !== undefined) await rm(fixture.dir, { recursive: true, force: true });
  });
  let kafka!: KafkaFixture;
  useKafkaFixture((f) => {
    kafka = f;
  });
  before(async () => {
    const dir = await mkdtemp(join(tmpdir(), `tracestream-${prefix}-`));
    const registry = await openSchemaRegistry({ schemaRegistryUrl: undefined, brokers: kafka.broker.bootstrapServers });
    const codec = createAvroCodec(registry);
    const ids = Array.from({ length: 200 }, (_, i) => `${prefix}-${i}`);
    const trainProblems = ids.filter((p) => splitOf(p) === 'train').slice(0, 10);
    const validationProblem = ids.find((p) => splitOf(p) === 'validation')!;
    fixture = {
      kafka, registry, codec, dir, trainProblems, validationProblem,
      async send(traces) {
        await kafka.producer.send(await Promise.all(traces.map(async (t) => ({ topic: 'traces', partition: 0, key: t.runId, value: await codec.encode('ExecutionTrace', t) }))));
      },
      heldOutTraces: (count) => Array.from({ length: count }, (_, k) => counterTrace(2 + k, validationProblem, `v${k}#0`)),
      trainingTraces: (count) => Array.from({ length: count }, (_, k) => counterTrace(1 + (k % 4), trainProblems[k % trainProblems.length]!, `s${k}#0`)),
      startTrain(args, options = { brokersFrom: 'flag' }) {
        const brokers = kafka.broker.bootstrapServers;
        const started = options.brokersFrom === 'env'
          ? startCli(['train', '--checkpoint', dir, ...args, ...TINY_TRAIN_FLAGS], { KAFKA_BROKERS: brokers })
          : startCli(['train', '--checkpoint', dir, '--brokers', brokers, ...args, ...TINY_TRAIN_FLAGS]);
        processes.push(started);
        return started;
      },
    };
    use(fixture);
  });
}
