/** The embedded broker (librdkafka's mock cluster) and the choice between it and an external cluster. */
export { EMBEDDED_PARTITION_RETENTION_BYTES, startEmbeddedBroker, resolveBrokers, type EmbeddedBroker, type ResolvedBrokers, type ResolveBrokersOptions } from './embedded.js';
