/** tracestream's public API: what topologies, tools and users build on. */
export * from './errors/index.js';
export * from './runs/index.js';
export * from './executor/index.js';
export * from './render/index.js';
export * from './avro/index.js';
export {
  startEmbeddedBroker, resolveBrokers, TRACESTREAM_CLIENT_PROPERTIES, kafkaSource, createProducer, produceTo,
  startExactlyOnce, startProcessor, ensureTopics, deadLetter, deadLetterHeaders, DEAD_LETTER_HEADERS,
  type EmbeddedBroker, type ResolvedBrokers, type ResolveBrokersOptions, type KafkaClientConfig, type KafkaLogger, type ConsumedRecord,
  type OutgoingRecord, type KafkaSource, type KafkaSourceOptions, type KafkaProducer, type ProducerOptions,
  type ProduceToOptions, type ExactlyOnceOptions, type RunningProcessor, type Transform, type DeliveryGuarantee,
  type ProcessorOptions, type TopicSpec, type EnsureTopicsOptions, type EnsuredTopic,
  type DeadLetter as DeadLetterRecord, type DeadLetterFn,
} from './kafka/index.js';
export * from './lifecycle/index.js';
export * from './pipeline/index.js';
