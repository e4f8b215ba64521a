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
  SETTINGS,
  createAvroCodec,
  createExecutorPool,
  decodeSolution,
  traceTopicSpecs,
  encodeDeadLetter,
  encodeOutputs,
  ensureTopics,
  eventBoundsSchema,
  executeSolution,
  isolateInputs,
  limitConcurrency,
  serializeByKey,
  startProcessor,
  type ConsumedRecord,
  type DeliveryGuarantee,
  type EventBoundsOptions,
  type InputIsolationOptions,
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
  /** LineDiff events per run (its first steps); 0: one per step. Default: the maxDiffsPerRun setting's default. */
  maxDiffsPerRun?: number;
  /** Limits applied to every run (the rest from DEFAULT_LIMITS). */
  limits?: Partial<Limits>;
  pool?: ExecutorPoolOptions;
  guarantee?: DeliveryGuarantee;
  /** Required with guarantee 'exactly-once': unique per running instance. */
  transactionalId?: string;
  /** How large events may be (the topics' max.message.bytes) and the names, values and lines in them. */
  eventBounds?: EventBoundsOptions;
  /** How long an input that hits a retriable fault (registry, broker) is retried before the topology stops. */
  isolation?: InputIsolationOptions;
}

/**
 * Records whose outputs are being delivered at once. Dead letters take one delivery round trip each
 * and no executor, so this is far above the solutions executing at once (`limitConcurrency` below):
 * with the two tied together, a burst of malformed records went at 8 per round trip.
 */
const MAX_RECORDS_IN_FLIGHT = 2_000;

/**
 * Records of one partition handed out past its oldest unfinished one. A solution that runs for
 * seconds holds its partition's window; the malformed records behind it flow only while the window
 * has room, so at 1,000 a burst of them went at about 1,000/s behind the solutions interleaved with
 * them. Records are small (a solution's source and stdin), so this bounds memory at a few MB a partition.
 */
const MAX_RECORDS_PER_PARTITION = 5_000;

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
  const maxDiffsPerRun = options.maxDiffsPerRun ?? SETTINGS.maxDiffsPerRun.default ?? 0;
  const concurrency = options.pool?.concurrency ?? availableParallelism();
  const bounds = eventBoundsSchema.parse(options.eventBounds ?? {});
  // The producer must take every record the bounds let through (librdkafka's default is 1 MB).
  const client: KafkaClientConfig = {
    ...options.client,
    librdkafka: { ...options.client.librdkafka, 'message.max.bytes': Math.max(Number(options.client.librdkafka?.['message.max.bytes'] ?? 0), bounds.maxMessageBytes) },
  };
  // The interpreters start, and the writer schemas are registered, while the consumer joins its
  // group: none needs the others, and a solution needs the schemas only once it has run.
  const poolStarting = createExecutorPool({ ...options.pool, concurrency });
  poolStarting.catch(() => undefined);
  const schemasRegistered = codec.prepare(['ExecutionTrace', 'LineDiff', 'DeadLetter']);
  schemasRegistered.catch(() => undefined);
  try {
    await ensureTopics({ client, topics: traceTopicSpecs(topics, undefined, bounds.maxMessageBytes), embedded: options.embedded ?? false });
  } catch (error) {
    await poolStarting.then((pool) => pool.close(), () => undefined);
    throw error;
  }

  // Enough solutions executing that every executor has a run waiting while other solutions' outputs
  // are encoded and delivered; never more than the pool's slots plus its queue, since a solution's
  // inputs run one by one (so the pool never refuses a run). Records that need no run (dead letters)
  // pass by: they are bounded by the delivery window alone.
  const executing = limitConcurrency(Math.min(concurrency * 4, concurrency + (options.pool?.maxQueued ?? 4 * concurrency)));
  const deadLetterOf = async (record: ConsumedRecord, reason: string, error: unknown) =>
    [await encodeDeadLetter(codec, topics, record, reason, error, bounds)];

  // Solutions are traced in parallel, but two events of one solution id keep their order. Whatever
  // one input does (it does not decode, its events do not fit, a file of its run fails) sends that
  // input to the dead-letter topic; only infrastructure faults stop the topology.
  const traceSolution = serializeByKey(isolateInputs(async (record: ConsumedRecord): Promise<OutgoingRecord[]> => {
    const solution = await decodeSolution(codec, record);
    if ('invalid' in solution) return deadLetterOf(record, solution.invalid, solution.error);
    const pool = await poolStarting;
    const traces = await executing(() => executeSolution(pool, solution, limits));
    await schemasRegistered;
    return encodeOutputs(codec, topics, solution, traces, maxDiffsPerRun, bounds);
  }, deadLetterOf, options.isolation));

  const processor = startProcessor({
    client,
    groupId: options.groupId ?? 'tracestream-trace',
    topics: [topics.solutions],
    transform: traceSolution,
    guarantee: options.guarantee ?? 'at-least-once',
    ...(options.transactionalId === undefined ? {} : { transactionalId: options.transactionalId }),
    maxInFlight: MAX_RECORDS_IN_FLIGHT,
    source: {
      maxInFlightPerPartition: MAX_RECORDS_PER_PARTITION,
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
