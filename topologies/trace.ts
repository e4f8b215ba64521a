/**
 * The trace topology: solutions in, one trace per (solution, input) and one diff per executed step
 * out. It reads top to bottom like the flow it is:
 *
 *   solutions ─ decode ─┬─ execute (isolated processes) ─ encode ─▶ traces, diffs
 *                       └─ (undecodable) ─────────────────────────▶ dead letters
 *
 * Offsets of `solutions` are committed only once every output of a record was delivered
 * (at-least-once, the default) or atomically with the outputs (exactly-once).
 */
import {
  DEFAULT_TRACE_TOPICS,
  createAvroCodec,
  createExecutorPool,
  decodeSolution,
  traceTopicSpecs,
  encodeDeadLetter,
  encodeOutputs,
  ensureTopics,
  executeSolution,
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
  await ensureTopics({ client: options.client, topics: traceTopicSpecs(topics), embedded: options.embedded ?? false });
  const pool: ExecutorPool = await createExecutorPool(options.pool ?? {});
  const limits = options.limits ?? {};

  const traceSolution = async (record: ConsumedRecord): Promise<OutgoingRecord[]> => {
    const solution = await decodeSolution(codec, record);
    if ('invalid' in solution) return [await encodeDeadLetter(codec, topics, record, solution.invalid, solution.error)];
    const traces = await executeSolution(pool, solution, limits);
    return encodeOutputs(codec, topics, solution, traces);
  };

  const processor = startProcessor({
    client: options.client,
    groupId: options.groupId ?? 'tracestream-trace',
    topics: [topics.solutions],
    transform: traceSolution,
    guarantee: options.guarantee ?? 'at-least-once',
    ...(options.transactionalId === undefined ? {} : { transactionalId: options.transactionalId }),
    // Enough solutions in flight to keep every executor busy while the others' outputs are
    // delivered, never more than the pool's slots plus its queue (inputs of a solution run one by one).
    maxInFlight: pool.concurrency * 2,
  });

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
