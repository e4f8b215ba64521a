/**
 * The training topology: traces in, a continuously fine-tuned language model out. It reads top to
 * bottom like the flow it is:
 *
 *   traces ─ decode ─ render (compact, with source) ─ split by problem ─┬─ train: pack ─ step (AdamW) ─ checkpoint
 *                                                                       └─ held out: evaluate ─▶ model-metrics
 *            (undecodable) ─▶ traces.dead-letter
 *
 * Its position in `traces` is kept in the checkpoint, not in a consumer group: it reads every
 * partition from the offsets the checkpoint saved (from 0 for a new model, which so rebuilds a
 * model from a replayed topic), and a restart after a crash resumes there, so a run is trained on
 * once per pass.
 */
import {
  DEFAULT_TRACE_TOPICS,
  OnlineTrainer,
  TopologyProbe,
  appendMetricsHistory,
  chooseBackend,
  createAvroCodec,
  createMetricsRegistry,
  createProducer,
  describeBackend,
  deadLetterReason,
  encodeDeadLetter,
  ensureTopics,
  executionOf,
  kafkaSource,
  registerModelGauges,
  renderCompact,
  startTopology,
  topologyMetrics,
  type BackendName,
  type ChosenBackend,
  type ConsumedRecord,
  type KafkaClientConfig,
  type ModelMetrics,
  type Readiness,
  type SchemaRegistry,
  type TopologyMetrics,
  type TrainerOptions,
} from '../src/index.js';
import type { Registry } from 'prom-client';

export interface TrainTopologyOptions {
  client: KafkaClientConfig;
  registry: SchemaRegistry;
  /** True on the embedded mock cluster (topics are auto-created there, not created). */
  embedded?: boolean;
  trainer: TrainerOptions;
  /** Backends to try, fastest first (default: all). */
  backends?: readonly BackendName[];
  topics?: { traces?: string; metrics?: string; deadLetters?: string };
  /** Stop after training this many more tokens: checkpoint, evaluate, and settle `done`. */
  maxTokens?: number;
  /** Prometheus registry for the gauges (default: prom-client's global one); false: none. */
  prometheus?: Registry | false;
  /** The shared topology metrics (records in, dead letters, assigned partitions, consumer lag); default: a private set. */
  metrics?: TopologyMetrics;
  /** Progress lines (start, checkpoints, evaluations). */
  log?: (line: string) => void;
}

export interface RunningTrainTopology {
  readonly backend: ChosenBackend;
  /** The checkpoint resumed from, or null for a new model. */
  readonly resumedFrom: string | null;
  readonly trainer: OnlineTrainer;
  /** Settles when training stops (after maxTokens, after close, or with the error that stopped it). */
  readonly done: Promise<void>;
  /** Stops consuming, writes a final checkpoint, disconnects. Idempotent. */
  close(): Promise<void>;
  /** For /readyz: ready once a broker is reachable and the partitions of `traces` are assigned. */
  readiness(): Readiness;
}

const POLL_MS = 200;

export async function startTrainTopology(options: TrainTopologyOptions): Promise<RunningTrainTopology> {
  const topics = { traces: 'traces', metrics: 'model-metrics', deadLetters: 'traces.dead-letter', ...options.topics };
  const log = options.log ?? (() => undefined);
  const backend = await chooseBackend(options.backends);
  const { trainer, resumedFrom } = await OnlineTrainer.open(options.trainer, backend);
  log(`backend ${describeBackend(backend)}; model of ${trainer.model.parameterCount} parameters; ${resumedFrom === null ? 'new model, reading from offset 0' : `resumed from ${resumedFrom} at offsets ${JSON.stringify(trainer.startOffsets())}`}`);
  const codec = createAvroCodec(options.registry);
  const modelId = options.trainer.checkpointDir;
  const tokensAtStart = trainer.tokensTrained;
  // Records in, dead letters, partitions owned, brokers up, and the lag behind each partition's end
  // from the trainer's own position (it commits no offsets to a group), for /metrics and /readyz.
  const probe = new TopologyProbe(options.metrics ?? topologyMetrics(createMetricsRegistry({ processMetrics: false })), topics.traces, {
    position: (topic, partition) => trainer.startOffsets()[topic]?.[String(partition)],
  });

  const topology = await startTopology('train', async (scope) => {
    scope.open('model', Promise.resolve(trainer), (t) => t.dispose());
    await ensureTopics({
      client: options.client,
      embedded: options.embedded ?? false,
      topics: [{ name: topics.metrics, partitions: 1 }, { name: topics.deadLetters, partitions: 1 }],
    });
    const producer = await scope.open('producer', createProducer({ client: options.client }), (p) => p.close());
    const gauges = options.prometheus === false
      ? undefined
      : await scope.open('gauges', Promise.resolve(registerModelGauges(options.prometheus)), (g) => g.teardown());
    const source = await scope.open('traces source', Promise.resolve(kafkaSource({
      client: options.client,
      groupId: 'tracestream-train',
      topics: [topics.traces],
      assignAllPartitions: true,
      startOffsets: trainer.startOffsets(),
      // Records wait here until the packer has room; a few per partition keep the fetcher busy.
      maxInFlightPerPartition: 32,
      observer: probe.observer,
    })), (s) => s.close());

    // Step: consume. The source pushes; the trainer pulls when its packer has room (bounded by
    // maxInFlightPerPartition: unacked records pause their partition).
    const waiting: ConsumedRecord[] = [];
    let wake: (() => void) | undefined;
    let sourceError: unknown;
    const subscription = source.records.subscribe({
      next(record) {
        waiting.push(record);
        wake?.();
      },
      error(error: unknown) {
        sourceError = error;
        wake?.();
      },
    });
    scope.open('subscription', Promise.resolve(subscription), (s) => s.unsubscribe());
    const nextRecord = async (): Promise<ConsumedRecord | undefined> => {
      if (waiting.length === 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, POLL_MS);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
      if (sourceError !== undefined) throw sourceError;
      return waiting.shift();
    };

    // Step: decode and render, or dead-letter. Either way the input position moves past the record.
    const handle = async (record: ConsumedRecord): Promise<void> => {
      const offset = Number(record.offset);
      probe.consumed(record);
      try {
        if (record.value === null) throw new Error('record has no value (tombstone)');
        const trace = await codec.decode(record.value, 'ExecutionTrace');
        const text = renderCompact(executionOf(trace), trace.source === null ? {} : { source: trace.source });
        trainer.offer({ runId: trace.runId, problemId: trace.problemId, text, producedAtMs: trace.producedAtMs, topic: record.topic, partition: record.partition, offset });
      } catch (error) {
        const reason = `cannot train on this trace: ${String(error)}`;
        const dead = await encodeDeadLetter(codec, { ...DEFAULT_TRACE_TOPICS, deadLetters: topics.deadLetters }, record, reason, error);
        await producer.send([dead]);
        probe.produced(record, [dead], deadLetterReason(reason, error));
        trainer.pass(record.topic, record.partition, offset);
      }
      record.ack();
      probe.delivered(record);
    };

    // Step: checkpoint, then evaluate on the held-out runs and publish the metrics.
    const checkpointAndEvaluate = async (): Promise<void> => {
      const name = await trainer.checkpoint();
      gauges?.checkpointWritten();
      const result = trainer.evaluate();
      if (result === null) {
        log(`checkpoint ${name} (step ${trainer.step}, ${trainer.tokensTrained} tokens); no held-out runs yet to evaluate`);
        return;
      }
      const metrics: ModelMetrics = trainer.metricsEvent(result, modelId);
      await appendMetricsHistory(trainer.config.checkpointDir, metrics);
      gauges?.update(metrics);
      await producer.send([{ topic: topics.metrics, key: modelId, value: await codec.encode('ModelMetrics', metrics) }]);
      log(`checkpoint ${name} (step ${metrics.step}, ${metrics.tokensTrained} tokens, ${metrics.tokensPerSecond?.toFixed(0) ?? '-'} tokens/s, lag ${metrics.trainLagMs ?? '-'} ms): ` +
        `trace loss ${fixed(metrics.traceLoss)}, next-state ${fixed(metrics.model.nextState)} (repeat-previous ${fixed(metrics.repeatPrevious.nextState)}, most-frequent ${fixed(metrics.mostFrequent.nextState)})`);
    };

    // The flow: train whenever a batch is packed, otherwise consume; checkpoint on budget.
    let stopping = false;
    const run = async (): Promise<void> => {
      while (!stopping) {
        if (options.maxTokens !== undefined && trainer.tokensTrained - tokensAtStart >= options.maxTokens) break;
        if (!trainer.wantsRuns) {
          const result = trainer.trainStep();
          if (result !== null) gauges?.stepped({ step: trainer.step, tokensTrained: trainer.tokensTrained, loss: result.loss, lagMs: trainer.lastLagMs });
          if (trainer.checkpointDue()) await checkpointAndEvaluate();
          // Let librdkafka's callbacks and signals in between steps.
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        const record = await nextRecord();
        if (record !== undefined) await handle(record);
        else if (trainer.checkpointDue()) await checkpointAndEvaluate();
      }
      if (trainer.hasUnsavedProgress) await checkpointAndEvaluate();
    };
    probe.started();
    const done = run();
    void done.finally(() => probe.stopping()).catch(() => undefined);
    return {
      done,
      close() {
        stopping = true;
        probe.stopping();
        return done.catch(() => undefined);
      },
    };
  });
  return { backend, resumedFrom, trainer, done: topology.done, close: () => topology.close(), readiness: () => probe.readiness() };
}

function fixed(value: number | null): string {
  return value === null ? '-' : value.toFixed(3);
}
