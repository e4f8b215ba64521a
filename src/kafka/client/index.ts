/** What every Kafka client of ours shares: its config, the records it reads and writes, the native library. */
export { TRACESTREAM_CLIENT_PROPERTIES, type KafkaClientConfig, type KafkaLogger } from './config.js';
export type { ConsumedRecord, OutgoingRecord } from './record.js';
export { kafkaError, waitOnlyForFirstMessage } from './native.js';
