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
  TopologyProbe,
  createAvroCodec,
  createMetricsRegistry,
  createExecutorPool,
  deadLetterReason,
  decodeSolution,
  encodeDeadLetter,
  encodeOutputs,
  ensureTopics,
  executeSolution,
  serializeByKey,
  startProcessor,
  startTopology,
  traceTopicSpecs,
  topologyMetrics,
  traceTuning,
  type ConsumedRecord,
  type DeliveryGuarantee,
  type ExecutionTrace,
  type ExecutorPoolOptions,
  type KafkaClientConfig,
  type Limits,
  type OutgoingRecord,
  type Readiness,
  type RunningTopology,
  type SchemaRegistry,
  type SolutionSubmitted,
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

export interface RunningTraceTopology extends RunningTopology {
  /** Ready once executors run, schemas are registered and partitions of `solutions` are assigned; for /readyz. */
  readiness(): Readiness;
}

const OUTPUT_EVENTS = ['ExecutionTrace', 'LineDiff', 'DeadLetter'] as const;

export async function startTraceTopology(options: TraceTopologyOptions): Promise<RunningTraceTopology> {
  const topics: TraceTopics = { ...DEFAULT_TRACE_TOPICS, ...options.topics };
  const codec = createAvroCodec(options.registry);
  const limits = options.limits ?? {};
  const maxDiffsPerRun = options.maxDiffsPerRun ?? DEFAULT_MAX_DIFFS_PER_RUN;
  const tuning = traceTuning({
    concurrency: options.pool?.concurrency, maxQueued: options.pool?.maxQueued, embedded: options.embedded ?? false,
    groupProtocol: options.groupProtocol, sessionTimeoutMs: options.sessionTimeoutMs,
  });

  // What the topology does, counted for /metrics, and whether it can work, for /readyz.
  const probe = new TopologyProbe(options.metrics ?? topologyMetrics(createMetricsRegistry({ processMetrics: false })), topics.solutions);

  const topology = await startTopology('trace', async (scope) => {
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
      probe.consumed(record);
      const solution = await decode(record);
      if ('invalid' in solution) {
        const letter = [await deadLetter(record, solution)];
        probe.produced(record, letter, deadLetterReason(solution.invalid, solution.error));
        return letter;
      }
      const traces = await execute(solution);
      for (const trace of traces) probe.ran(trace.outcome.replaceAll('_', '-'), trace.wallTimeMs);
      const outputs = await toEvents(solution, traces);
      probe.produced(record, outputs);
      return outputs;
    };

    return scope.open('processor', Promise.resolve(startProcessor({
      client: options.client,
      groupId: options.groupId ?? 'tracestream-trace',
      topics: [topics.solutions],
      transform: serializeByKey(traceSolution),
      delivered: (record) => probe.delivered(record),
      guarantee: options.guarantee ?? 'at-least-once',
      ...(options.transactionalId === undefined ? {} : { transactionalId: options.transactionalId }),
      ...tuning.processor,
      source: { ...tuning.processor.source, observer: probe.observer },
    })), (processor) => processor.close());
  });
  probe.started();
  void topology.done.finally(() => probe.stopping()).catch(() => undefined);
  return {
    done: topology.done,
    close() {
      probe.stopping();
      return topology.close();
    },
    readiness: () => probe.readiness(),
  };
}
