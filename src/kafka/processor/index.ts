/** Consume-transform-produce, at-least-once or exactly-once (Kafka transactions). */
export { startProcessor, type DeliveryGuarantee, type ProcessorOptions } from './processor.js';
export { startExactlyOnce, type ExactlyOnceOptions, type RunningProcessor, type Transform } from './exactly-once.js';
