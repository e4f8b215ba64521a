/** Producers: idempotent batches with per-record delivery reports, partitioning, dead letters. */
export { createProducer, produceTo, type KafkaProducer, type ProducerOptions, type ProduceToOptions } from './sink.js';
export { deadLetter, deadLetterHeaders, DEAD_LETTER_HEADERS, type DeadLetterFn, type EncodeDeadLetter } from './dead-letter.js';
export { partitionOfKey } from './partitioner.js';
