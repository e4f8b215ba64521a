/** Consumer group members: the one consumer base (group.ts) and the at-least-once source built on it. */
export { kafkaSource, type KafkaSource, type KafkaSourceOptions } from './source.js';
export { heartbeatIntervalOf, type ConsumerGroupTuning } from './group.js';
export { parseConsumerStatistics, type ConsumerObserver, type ConsumerStatistics, type PartitionLag } from './observer.js';
export { resolveStartOffsets, startPositionSchema, startsAtTime, type StartPosition, type PartitionStart } from './start-offsets.js';
