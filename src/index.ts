/**
 * tracestream's public API: what a topology author needs, one name per concept. Topologies in
 * `topologies/` import only from here. Internals (wire format, native clients, the executor's
 * channel parser, ...) stay in their layers; import those from the layer itself if you must.
 */

// Errors and options: one error type with codes and decision flags; one way to check options.
export {
  TracestreamError, AggregateTracestreamError, isTracestreamError, isInfrastructureFault, describeError, parseOptions, type ErrorCode,
} from './errors/index.js';

// A run: what is asked, how it ended, what it recorded.
export {
  OUTCOMES, DEFAULT_LIMITS, resolveLimits,
  type Execution, type ExecutionRequest, type Outcome, type Limits, type Step, type StepEvent, type VariableChange,
  type ChangeKind, type ExceptionInfo,
} from './runs/index.js';

// Running programs: the sandboxed, traced executor pool.
export {
  createExecutorPool, executeWith, chooseInterpreter, TRACER_VERSION,
  type ExecutorPool, type ExecutorPoolOptions, type RunOptions, type ExecuteWithOptions, type Interpreter,
} from './executor/index.js';

// Printing a run.
export { renderSnoop, renderCompact, parseCompact, renderJson, type SnoopOptions, type CompactOptions, type CompactTrace } from './render/index.js';

// Events: their shapes, the codec, the schema registries.
export {
  EVENT_TYPES, createAvroCodec, openSchemaRegistry,
  type EventType, type EventTypes, type TracestreamEvent, type SolutionSubmitted, type TestInput, type ExecutionTrace,
  type LineDiff, type DeadLetter, type ModelMetrics, type AvroCodec, type SchemaRegistry, type OpenSchemaRegistryOptions,
} from './avro/index.js';

// Kafka: clusters, records, sources, sinks, processors, topics.
export {
  startEmbeddedBroker, resolveBrokers, TRACESTREAM_CLIENT_PROPERTIES, kafkaSource, createProducer, produceTo,
  startProcessor, ensureTopics, deadLetter, deadLetterHeaders, DEAD_LETTER_HEADERS, isolateInputs,
  type DeadLetterTransform, type InputIsolationOptions,
  type EmbeddedBroker, type ResolvedBrokers, type KafkaClientConfig, type KafkaLogger, type ConsumedRecord,
  type OutgoingRecord, type KafkaSource, type KafkaSourceOptions, type KafkaProducer, type ProducerOptions,
  type ProduceToOptions, type ProcessorOptions, type DeliveryGuarantee, type Transform, type RunningProcessor,
  type TopicSpec, type DeadLetterFn, type ConsumerObserver, type ConsumerStatistics,
} from './kafka/index.js';

// Lifecycle: how a topology starts, stops and drains.
export { startTopology, installShutdown, type RunningTopology, type TopologyScope, type ShutdownHandle } from './lifecycle/index.js';

// Building blocks of topologies.
export {
  EVENT_SCHEMA_VERSION, DEFAULT_MAX_DIFFS_PER_RUN, DEFAULT_TRACE_TOPICS, runIdOf, contentHashOf, toTraceEvent, toLineDiffs,
  readSolutions, decodeSolution, executeSolution, encodeOutputs, encodeDeadLetter, traceTopicSpecs, serializeByKey,
  traceTuning, openConnection, produceSolutions, collectTraces, awaitRuns, readEvents, executionOf, TopologyProbe,
  MAX_MESSAGE_BYTES, eventBoundsSchema, fitTrace, fitDeadLetter, cutText, limitConcurrency, type EventBounds, type EventBoundsOptions,
  type TraceTopics, type Connection, type OpenConnectionOptions, type CollectTracesOptions, type AwaitRunsOptions, type ReadEventsOptions,
} from './pipeline/index.js';

// Datasets: trace topics replayed into Parquet shards per split; the one split-by-problem rule.
export {
  replayTopic, followTopic, endOffsetsOf, toDatasetRow, splitOf, DATASET_COLUMNS, DEFAULT_SPLIT_RATIOS, SPLITS,
  type ReplayOptions, type ReplayProgress, type ReplayResult, type FollowOptions, type DatasetRow, type DatasetFilter,
  type DatasetManifest, type DatasetFormat, type ScanStart, type Split, type SplitRatios,
} from './dataset/index.js';

// Health and metrics: /healthz, /readyz and /metrics of a long-running process.
export {
  startTelemetryServer, createMetricsRegistry, topologyMetrics, deadLetterReason,
  type TelemetryServer, type TelemetryServerOptions, type Readiness, type ReadinessCheck, type TopologyMetrics,
} from './telemetry/index.js';

// Live streams: subscribe to traces and diffs as they are written; the tail and serve behind the CLI.
export {
  subscribe, startTail, startLiveServer, parseLiveFrom, wantsColour, LIVE_STREAMS,
  type LiveStream, type LiveEvent, type LiveEventOf, type LiveFrom, type LiveFilter, type LiveReaderOptions,
  type LiveServer, type LiveServerOptions, type RunningTail, type TailOptions,
} from './live/index.js';

// The language-model consumer: backends, the online trainer, its metrics.
export {
  BACKENDS, chooseBackend, describeBackend, OnlineTrainer, registerModelGauges, appendMetricsHistory, readMetricsHistory,
  plotTrainingCurves, openModel, imitate, renderImitation,
  type BackendName, type ChosenBackend, type TrainerOptions, type ConsumedRun, type ModelConfigInput, type EvaluationResult,
  type ModelGauges, type Imitation,
} from './model/index.js';
