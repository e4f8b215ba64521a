/** tracestream's public API: what topologies, tools and users build on. */
export * from './errors/index.js';
export { readSettings, describeSettings, SETTINGS, type Settings, type Flags } from './config/settings.js';
export * from './executor/index.js';
export * from './trace/index.js';
export * from './avro/index.js';
export {
  startEmbeddedBroker, resolveBrokers, clientConfigFromSettings, kafkaSource, createProducer, produceTo,
  startExactlyOnce, startProcessor, ensureTopics, deadLetter, deadLetterHeaders, DEAD_LETTER_HEADERS, installShutdown, runTeardowns,
  type EmbeddedBroker, type ResolvedBrokers, type KafkaClientConfig, type KafkaLogger, type ConsumedRecord,
  type OutgoingRecord, type KafkaSource, type KafkaSourceOptions, type KafkaProducer, type ProducerOptions,
  type ProduceToOptions, type ExactlyOnceOptions, type RunningProcessor, type Transform, type DeliveryGuarantee,
  type ProcessorOptions, type TopicSpec, type EnsureTopicsOptions, type EnsuredTopic,
  type DeadLetter as DeadLetterRecord, type DeadLetterFn, type ShutdownHandle, type ShutdownOptions, type Teardown,
} from './kafka/index.js';
export * from './topology/index.js';
export { parseConsumerStatistics, type ConsumerObserver, type ConsumerStatistics, type PartitionLag } from './kafka/index.js';
export * from './telemetry/index.js';
