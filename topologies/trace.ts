/**
 * The trace topology: solutions in, one trace per (solution, input) and one diff per executed step
 * out. The flow, top to bottom:
 *
 *   solutions ─ decode ─┬─ execute (sandboxed, traced) ─ to events (cut to fit) ─▶ traces, diffs
 *                       └─ (undecodable) ─ dead letter ─────────────────────────▶ solutions.dead-letter
 *
 * Two records with the same solution id go through it one after the other; different ones in
 * parallel. Whatever one input does (it does not decode, its events do not fit, its run fails in a
 * way of its own) sends that input to the dead-letter topic with the reason; only infrastructure
 * faults stop the topology, the retriable ones after retries (isolateInputs). Offsets of `solutions` are committed only once every output of a record was delivered
 * (at-least-once, the default) or atomically with the outputs (exactly-once).
 */
import { z } from 'zod';
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
  eventBoundsSchema,
  executeSolution,
  isolateInputs,
  limitConcurrency,
  parseOptions,
  serializeByKey,
  startProcessor,
  startTopology,
  traceTopicSpecs,
  topologyMetrics,
  traceTuning,
  type ConsumedRecord,
  type EventBoundsOptions,
  type InputIsolationOptions,
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

const traceTopologySchema = z.object({
  client: z.custom<KafkaClientConfig>((v) => typeof v === 'object' && v !== null, 'a KafkaClientConfig'),
  registry: z.custom<SchemaRegistry>((v) => typeof v === 'object' && v !== null, 'a SchemaRegistry'),
  /** True on the embedded mock cluster (topics are auto-created there, not created). */
  embedded: z.boolean().default(false),
  groupId: z.string().min(1).default('tracestream-trace'),
  topics: z.object({
    solutions: z.string().min(1), traces: z.string().min(1), diffs: z.string().min(1), deadLetters: z.string().min(1),
  }).partial().default({}),
  /** Consumer group protocol; default: 'consumer' (KIP-848) on the embedded broker, 'classic' elsewhere. */
  groupProtocol: z.enum(['classic', 'consumer']).optional(),
  /** Consumer group session timeout (how soon a crashed member's partitions move). Default 45 s. */
  sessionTimeoutMs: z.number().int().positive().optional(),
  /** How long no Kafka broker may answer before the topology stops with KAFKA_DISCONNECTED (readiness is false meanwhile). Default 60 s. */
  clusterDownTimeoutMs: z.number().int().positive().optional(),
  /** How often the cluster is probed (dead brokers are noticed even when nothing is read). Default 5 s. */
  clusterProbeIntervalMs: z.number().int().positive().optional(),
  /** LineDiff events per run (its first steps); 0: one per step. */
  maxDiffsPerRun: z.number().int().nonnegative().default(DEFAULT_MAX_DIFFS_PER_RUN),
  /** Limits applied to every run (the rest from DEFAULT_LIMITS; checked by the pool). */
  limits: z.custom<Partial<Limits>>((v) => typeof v === 'object' && v !== null).default({}),
  /** Executor pool options (checked by the pool). */
  pool: z.custom<ExecutorPoolOptions>((v) => typeof v === 'object' && v !== null).default({}),
  guarantee: z.enum(['at-least-once', 'exactly-once']).default('at-least-once'),
  /** Required with guarantee 'exactly-once': unique per running instance. */
  transactionalId: z.string().min(1).optional(),
  /** How large events may be (the topics' max.message.bytes) and the names, values and lines in them. */
  eventBounds: z.custom<EventBoundsOptions>((v) => typeof v === 'object' && v !== null).default({}),
  /** How long an input that hits a retriable fault (registry, broker) is retried before the topology stops. */
  isolation: z.custom<InputIsolationOptions>((v) => typeof v === 'object' && v !== null).default({}),
  /** Where records, dead letters, runs and lag are counted (serve them with startTelemetryServer). Default: a private registry. */
  metrics: z.custom<TopologyMetrics>((v) => typeof v === 'object' && v !== null, 'topologyMetrics(registry)').optional(),
}).refine((o) => o.guarantee !== 'exactly-once' || o.transactionalId !== undefined, {
  message: "required when guarantee is 'exactly-once'", path: ['transactionalId'],
});

export type TraceTopologyOptions = z.input<typeof traceTopologySchema>;

export interface RunningTraceTopology extends RunningTopology {
  /** Ready once executors run, schemas are registered and partitions of `solutions` are assigned; for /readyz. */
  readiness(): Readiness;
}

const OUTPUT_EVENTS = ['ExecutionTrace', 'LineDiff', 'DeadLetter'] as const;

export async function startTraceTopology(input: TraceTopologyOptions): Promise<RunningTraceTopology> {
  const options = parseOptions(traceTopologySchema, input, 'startTraceTopology');
  const topics: TraceTopics = { ...DEFAULT_TRACE_TOPICS, ...options.topics };
  const codec = createAvroCodec(options.registry);
  const bounds = eventBoundsSchema.parse(options.eventBounds);
  // The producer must take every record the bounds let through (librdkafka's default is 1 MB).
  const client: KafkaClientConfig = {
    ...options.client,
    librdkafka: {
      ...options.client.librdkafka,
      'message.max.bytes': Math.max(Number(options.client.librdkafka?.['message.max.bytes'] ?? 0), bounds.maxMessageBytes),
    },
  };
  const tuning = traceTuning({
    concurrency: options.pool.concurrency, maxQueued: options.pool.maxQueued, embedded: options.embedded,
    groupProtocol: options.groupProtocol, sessionTimeoutMs: options.sessionTimeoutMs,
    clusterDownTimeoutMs: options.clusterDownTimeoutMs, clusterProbeIntervalMs: options.clusterProbeIntervalMs,
  });

  // What the topology does, counted for /metrics, and whether it can work, for /readyz.
  const probe = new TopologyProbe(options.metrics ?? topologyMetrics(createMetricsRegistry({ processMetrics: false })), topics.solutions);

  const topology = await startTopology('trace', async (scope) => {
    // The interpreters start and the writer schemas register while the topics are made and the
    // consumer joins its group: none needs the others, and a solution needs them only once it runs.
    const pool = scope.open('executor pool', createExecutorPool({ ...options.pool, concurrency: tuning.concurrency }), (p) => p.close());
    const schemasRegistered = scope.open('writer schemas', codec.prepare([...OUTPUT_EVENTS]));
    await ensureTopics({ client, topics: traceTopicSpecs(topics, undefined, bounds.maxMessageBytes), embedded: options.embedded });
    const executing = limitConcurrency(tuning.executing);
    // Once the flow has failed no output can be delivered: the programs still running are killed
    // rather than waited for, so a fatal fault stops the topology within seconds.
    const flowFailed = new AbortController();

    // The steps, named as in the diagram above.
    const decode = (record: ConsumedRecord) => decodeSolution(codec, record);
    const deadLetter = async (record: ConsumedRecord, reason: string, error: unknown) => {
      const letter = [await encodeDeadLetter(codec, topics, record, reason, error, bounds)];
      probe.produced(record, letter, deadLetterReason(reason, error));
      return letter;
    };
    const execute = async (solution: SolutionSubmitted) => {
      const started = await pool;
      return executing(() => executeSolution(started, solution, options.limits, flowFailed.signal));
    };
    const toEvents = async (solution: SolutionSubmitted, traces: readonly ExecutionTrace[]) => {
      await schemasRegistered;
      return encodeOutputs(codec, topics, solution, traces, options.maxDiffsPerRun, bounds);
    };

    const traceSolution = async (record: ConsumedRecord): Promise<OutgoingRecord[]> => {
      probe.consumed(record);
      const solution = await decode(record);
      if ('invalid' in solution) return deadLetter(record, solution.invalid, solution.error);
      const traces = await execute(solution);
      for (const trace of traces) probe.ran(trace.outcome.replaceAll('_', '-'), trace.wallTimeMs);
      const outputs = await toEvents(solution, traces);
      probe.produced(record, outputs);
      return outputs;
    };

    const processor = startProcessor({
      client,
      groupId: options.groupId,
      topics: [topics.solutions],
      transform: serializeByKey(isolateInputs(traceSolution, deadLetter, options.isolation)),
      delivered: (record) => probe.delivered(record),
      guarantee: options.guarantee,
      ...(options.transactionalId === undefined ? {} : { transactionalId: options.transactionalId }),
      ...tuning.processor,
      source: { ...tuning.processor.source, observer: probe.observer },
    });
    processor.done.catch(() => flowFailed.abort());
    return scope.open('processor', Promise.resolve(processor), (opened) => opened.close());
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
