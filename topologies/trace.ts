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
  type SchemaRegistry,
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
}

export interface RunningTraceTopology {
  /** Settles when the topology stops (after close, or with the error that stopped it). */
  readonly done: Promise<void>;
  /** Drains in-flight solutions, commits, disconnects, stops the executors. Idempotent. */
  close(): Promise<void>;
}

export async function startTraceTopology(options: TraceTopologyOptions): Promise<RunningTraceTopology> {
  const topics: TraceTopics = { ...DEFAULT_TRACE_TOPICS, ...options.topics };
  const codec = createAvroCodec(options.registry);
  const limits = options.limits ?? {};
  const maxDiffsPerRun = options.maxDiffsPerRun ?? DEFAULT_MAX_DIFFS_PER_RUN;
  const concurrency = options.pool?.concurrency ?? availableParallelism();
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
    const solution = await decodeSolution(codec, record);
    if ('invalid' in solution) return [await encodeDeadLetter(codec, topics, record, solution.invalid, solution.error)];
    const traces = await executeSolution(await poolStarting, solution, limits);
    await schemasRegistered;
    return encodeOutputs(codec, topics, solution, traces, maxDiffsPerRun);
  });

  const processor = startProcessor({
    client: options.client,
    groupId: options.groupId ?? 'tracestream-trace',
    topics: [topics.solutions],
    transform: traceSolution,
    guarantee: options.guarantee ?? 'at-least-once',
    ...(options.transactionalId === undefined ? {} : { transactionalId: options.transactionalId }),
    // Enough solutions in flight that every executor has a run waiting while other solutions' outputs
    // are encoded and delivered; never more than the pool's slots plus its queue, since a solution's
    // inputs run one by one (so the pool never refuses a run).
    maxInFlight: Math.min(concurrency * 4, concurrency + (options.pool?.maxQueued ?? 4 * concurrency)),
    source: {
      // The embedded mock cluster speaks KIP-848, which joins without the classic 3 s delay.
      groupProtocol: options.groupProtocol ?? (options.embedded ? 'consumer' : 'classic'),
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

  let closing: Promise<void> | undefined;
  const done = processor.done.finally(() => pool.close());
  return {
    done,
    close() {
      closing ??= processor.close().then(() => done);
      return closing;
    },
  };
}
