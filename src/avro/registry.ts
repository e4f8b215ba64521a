import type { AvroSchema, CompatibilityResult } from './compatibility.js';

/**
 * Where writer schemas live, so that a message carries only a 4-byte schema id. Two implementations:
 * `ConfluentSchemaRegistry` (an HTTP Schema Registry) and the built-in `openKafkaSchemaRegistry`
 * (a compacted topic on the cluster itself); `openSchemaRegistry` picks one from its options.
 *
 * Compatibility is BACKWARD, checked against the subject's latest version: a new schema must be
 * able to read data written with the previous one.
 */
export interface SchemaRegistry {
  /**
   * Registers `schema` under `subject` and returns its id; registering it again returns the same id.
   * Throws TracestreamError `SCHEMA_INCOMPATIBLE` when it cannot read the subject's latest version.
   */
  register(subject: string, schema: AvroSchema): Promise<number>;
  /** The schema with this id. Throws `SCHEMA_NOT_FOUND` when the registry has none. */
  getById(id: number): Promise<AvroSchema>;
  /** Whether `schema` could be registered under `subject` now (true when the subject has no version). */
  checkCompatible(subject: string, schema: AvroSchema): Promise<CompatibilityResult>;
  /** Releases connections; idempotent. */
  close(): Promise<void>;
}
