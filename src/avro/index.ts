/**
 * Avro events of tracestream: the event schemas (`schemas/*.avsc`), their TypeScript shapes,
 * the Confluent wire format, and the schema registries that give writer schemas their ids.
 */
export {
  EVENT_TYPES, EVENT_NAMESPACE, outcomeToAvro, outcomeFromAvro,
  type EventType, type EventTypes, type TracestreamEvent, type AvroOutcome,
  type SolutionSubmitted, type TestInput, type ExecutionTrace, type LineDiff, type DeadLetter,
  type ModelMetrics, type StateAccuracyRecord,
} from './events.js';
export { SCHEMAS_DIR, eventSchema, eventSchemas, type EventSchema } from './schemas.js';
export { checkBackward, parseSchema, type AvroSchema, type CompatibilityResult } from './compatibility.js';
export { MAGIC_BYTE, WIRE_HEADER_BYTES, encodeWire, readWireHeader, decodeBody, type DecodeFailure } from './wire.js';
export type { SchemaRegistry } from './registry.js';
export { ConfluentSchemaRegistry, type ConfluentSchemaRegistryOptions } from './confluent-registry.js';
export { openKafkaSchemaRegistry, builtInSchemaId, DEFAULT_SCHEMA_TOPIC, type KafkaSchemaRegistryOptions } from './kafka-registry.js';
export { openSchemaRegistry, type OpenSchemaRegistryOptions } from './open-registry.js';
export { createAvroCodec, type AvroCodec, type AvroCodecOptions } from './codec.js';
