/**
 * The trace topology: solutions in, one trace per (solution, input) and one diff per executed step
 * out. The flow, top to bottom:
 *
 *   solutions ─ decode ─┬─ execute (sandboxed, traced) ─ to events ─▶ traces, diffs
 *                       └─ (undecodable) ─ dead letter ───────────▶ solutions.dead-letter
 *
 * Two records with the same solution id go through it one after the other; different ones in
 * parallel. Offsets of `solutions` are committed only once every output of a record was delivered
 * (at-least-once, the default) or atomically with the outputs (exactly-once).
 */
import {
  DEFAULT_MAX_DIFFS_PER_RUN,
  DEFAULT_TRACE_TOPICS,
  createAvroCodec,
  createExecutorPool,
  decodeSolution,
  encodeDeadLetter,
  encodeOutputs,
  ensureTopics,
  executeSolution,
  serializeByKey,
  startProcessor,
  startTopology,
  traceTopicSpecs,
  traceTuning,
  type ConsumedRecord,
  type DeliveryGuarantee,
  type ExecutionTrace,
  type ExecutorPoolOptions,
  type KafkaClientConfig,
  type Limits,
  type OutgoingRecord,
  type RunningTopology,
  type SchemaRegistry,
  type SolutionSubmitted,
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

const OUTPUT_EVENTS = ['ExecutionTrace', 'LineDiff', 'DeadLetter'] as const;

export function startTraceTopology(options: TraceTopologyOptions): Promise<RunningTopology> {
  const topics: TraceTopics = { ...DEFAULT_TRACE_TOPICS, ...options.topics };
  const codec = createAvroCodec(options.registry);
  const limits = options.limits ?? {};
  const maxDiffsPerRun = options.maxDiffsPerRun ?? DEFAULT_MAX_DIFFS_PER_RUN;
  const tuning = traceTuning({
    concurrency: options.pool?.concurrency, maxQueued: options.pool?.maxQueued, embedded: options.embedded ?? false,
    groupProtocol: options.groupProtocol, sessionTimeoutMs: options.sessionTimeoutMs,
  });

  return startTopology('trace', async (scope) => {
    // The interpreters start and the writer schemas register while the topics are made and the
    // consumer joins its group: none needs the others, and a solution needs them only once it runs.
    const pool = scope.open('executor pool', createExecutorPool({ ...options.pool, concurrency: tuning.concurrency }), (p) => p.close());
    const schemasRegistered = scope.open('writer schemas', codec.prepare([...OUTPUT_EVENTS]));
    await ensureTopics({ client: options.client, topics: traceTopicSpecs(topics), embedded: options.embedded ?? false });

    // The steps, named as in the diagram above.
    const decode = (record: ConsumedRecord) => decodeSolution(codec, record);
    const deadLetter = (record: ConsumedRecord, refused: { invalid: string; error: unknown }) =>
      encodeDeadLetter(codec, topics, record, refused.invalid, refused.error);
    const execute = async (solution: SolutionSubmitted) => executeSolution(await pool, solution, limits);
    const toEvents = async (solution: SolutionSubmitted, traces: readonly ExecutionTrace[]) => {
      await schemasRegistered;
      return encodeOutputs(codec, topics, solution, traces, maxDiffsPerRun);
    };

    const traceSolution = async (record: ConsumedRecord): Promise<OutgoingRecord[]> => {
      const solution = await decode(record);
      if ('invalid' in solution) return [await deadLetter(record, solution)];
      const traces = await execute(solution);
      return toEvents(solution, traces);
    };

    return scope.open('processor', Promise.resolve(startProcessor({
      client: options.client,
      groupId: options.groupId ?? 'tracestream-trace',
      topics: [topics.solutions],
      transform: serializeByKey(traceSolution),
      guarantee: options.guarantee ?? 'at-least-once',
      ...(options.transactionalId === undefined ? {} : { transactionalId: options.transactionalId }),
      ...tuning.processor,
    })), (processor) => processor.close());
  });
}
