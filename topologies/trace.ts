/**
 * The trace topology: solutions in, one trace per (solution, input) and one diff per executed step
 * out. It reads top to bottom like the flow it is:
 *
 *   solutions ─ (one at a time per key) decode ─┬─ execute (isolated processes) ─ encode ─▶ traces, diffs
 *                                               └─ (undecodable) ─────────────────────────▶ dead letters
 *
 * Offsets of `solutions` are committed only once every output of a record was delivered
 * (at-least-once, the default) or atomically with the outputs (exactly-once).
 */
import { availableParallelism } from 'node:os';
import {
  DEFAULT_TRACE_TOPICS,
  DEFAULT_MAX_DIFFS_PER_RUN,
  TopologyProbe,
  createMetricsRegistry,
  deadLetterReason,
  topologyMetrics,
  createAvroCodec,
  createExecutorPool,
  decodeSolution,
  traceTopicSpecs,
  encodeDeadLetter,
  encodeOutputs,
  ensureTopics,
  executeSolution,
  serializeByKey,
  startProcessor,
  type ConsumedRecord,
  type DeliveryGuarantee,
  type ExecutorPool,
  type ExecutorPoolOptions,
  type KafkaClientConfig,
  type Limits,
  type OutgoingRecord,
  type Readiness,
  type SchemaRegistry,
  type TopologyMetrics,
  type TraceTopics,
} from '../src/index.js';

export interface TraceTopologyOptions {
  client: KafkaClientConfig;
  registry: SchemaRegistry;
  /** True on the embedded mock cluster (topics are auto-created there, not created). */
  embedded?: boolean;
  groupId?: string;
  topics?: Partial<TraceTopics>;
  /** Consumer group protocol; default: 'consumer' (KIP-848) on the embedded broker, 'classic' elsewhere. */
  groupProtocol?: 'classic' | 'consumer';
  /** Consumer group session timeout (how soon a crashed member's partitions move). Default 45 s. */
  sessionTimeoutMs?: number;
  /** LineDiff events per run (its first steps); 0: one per step. Default: DEFAULT_MAX_DIFFS_PER_RUN. */
  maxDiffsPerRun?: number;
  /** Limits applied to every run (the rest from DEFAULT_LIMITS). */
  limits?: Partial<Limits>;
  pool?: ExecutorPoolOptions;
  guarantee?: DeliveryGuarantee;
  /** Required with guarantee 'exactly-once': unique per running instance. */
  transactionalId?: string;
  /** Where records, dead letters, runs and lag are counted (serve them with startTelemetryServer). Default: a private registry. */
  metrics?: TopologyMetrics;
}

export interface RunningTraceTopology {
  /** Settles when the topology stops (after close, or with the error that stopped it). */
  readonly done: Promise<void>;
  /** Drains in-flight solutions, commits, disconnects, stops the executors. Idempotent. */
  close(): Promise<void>;
  /** Ready once executors run, schemas are registered and partitions of `solutions` are assigned; for /readyz. */
  readiness(): Readiness;
}

export async function startTraceTopology(options: TraceTopologyOptions): Promise<RunningTraceTopology> {
  const topics: TraceTopics = { ...DEFAULT_TRACE_TOPICS, ...options.topics };
  const codec = createAvroCodec(options.registry);
  const limits = options.limits ?? {};
  const maxDiffsPerRun = options.maxDiffsPerRun ?? DEFAULT_MAX_DIFFS_PER_RUN;
  const concurrency = options.pool?.concurrency ?? availableParallelism();
  const probe = new TopologyProbe(options.metrics ?? topologyMetrics(createMetricsRegistry({ processMetrics: false })), topics.solutions);
  // The interpreters start, and the writer schemas are registered, while the consumer joins its
  // group: none needs the others, and a solution needs the schemas only once it has run.
  const poolStarting = createExecutorPool({ ...options.pool, concurrency });
  poolStarting.catch(() => undefined);
  const schemasRegistered = codec.prepare(['ExecutionTrace', 'LineDiff', 'DeadLetter']);
  schemasRegistered.catch(() => undefined);
  try {
    await ensureTopics({ client: options.client, topics: traceTopicSpecs(topics), embedded: options.embedded ?? false });
  } catch (error) {
    await poolStarting.then((pool) => pool.close(), () => undefined);
    throw error;
  }

  // Solutions are traced in parallel, but two events of one solution id keep their order.
  const traceSolution = serializeByKey(async (record: ConsumedRecord): Promise<OutgoingRecord[]> => {
    probe.consumed(record);
    const solution = await decodeSolution(codec, record);
    if ('invalid' in solution) {
      const letter = [await encodeDeadLetter(codec, topics, record, solution.invalid, solution.error)];
      probe.produced(record, letter, deadLetterReason(solution.invalid, solution.error));
      return letter;
    }
    const traces = await executeSolution(await poolStarting, solution, limits);
    for (const trace of traces) probe.ran(trace.outcome.replaceAll('_', '-'), trace.wallTimeMs);
    await schemasRegistered;
    const outputs = await encodeOutputs(codec, topics, solution, traces, maxDiffsPerRun);
    probe.produced(record, outputs);
    return outputs;
  });

  const processor = startProcessor({
    client: options.client,
    groupId: options.groupId ?? 'tracestream-trace',
    topics: [topics.solutions],
    transform: traceSolution,
    delivered: (record) => probe.delivered(record),
    guarantee: options.guarantee ?? 'at-least-once',
    ...(options.transactionalId === undefined ? {} : { transactionalId: options.transactionalId }),
    // Enough solutions in flight that every executor has a run waiting while other solutions' outputs
    // are encoded and delivered; never more than the pool's slots plus its queue, since a solution's
    // inputs run one by one (so the pool never refuses a run).
    maxInFlight: Math.min(concurrency * 4, concurrency + (options.pool?.maxQueued ?? 4 * concurrency)),
    source: {
      // The embedded mock cluster speaks KIP-848, which joins without the classic 3 s delay.
      groupProtocol: options.groupProtocol ?? (options.embedded ? 'consumer' : 'classic'),
      observer: probe.observer,
      ...(options.sessionTimeoutMs === undefined ? {} : {
        sessionTimeoutMs: options.sessionTimeoutMs, heartbeatIntervalMs: Math.min(3_000, Math.floor(options.sessionTimeoutMs / 3)),
      }),
    },
  });
  let pool: ExecutorPool;
  try {
    [pool] = await Promise.all([poolStarting, schemasRegistered]);
  } catch (error) {
    await processor.close().catch(() => undefined);
    await poolStarting.then((started) => started.close(), () => undefined);
    throw error;
  }

  probe.started();
  let closing: Promise<void> | undefined;
  const done = processor.done.finally(() => {
    probe.stopping();
    return pool.close();
  });
  return {
    done,
    close() {
      probe.stopping();
      closing ??= processor.close().then(() => done);
      return closing;
    },
    readiness: () => probe.readiness(),
  };
}
