import avro from 'avsc';
import { describeError } from '../errors/index.js';

/** An Avro schema as JSON: what an `.avsc` file holds, and what registries store. */
export type AvroSchema = Record<string, unknown>;

type ForSchemaInput = Parameters<typeof avro.Type.forSchema>[0];

/** Parses a schema into an avsc type; throws avsc's own error when the schema is not valid Avro. */
export function parseSchema(schema: AvroSchema): avro.Type {
  return avro.Type.forSchema(schema as ForSchemaInput);
}

export type CompatibilityResult =
  | { compatible: true }
  | { compatible: false; messages: string[] };

/**
 * BACKWARD compatibility, the Schema Registry's default: a consumer using `reader` can read data
 * written with `writer`. Decided by avsc itself: the schemas are compatible exactly when avsc can
 * build a resolver from the writer to the reader (new fields need defaults, types may only be
 * promoted, enum symbols may only be added, ...).
 */
export function checkBackward(reader: avro.Type, writer: avro.Type): CompatibilityResult {
  try {
    reader.createResolver(writer);
    return { compatible: true };
  } catch (error) {
    return { compatible: false, messages: [describeError(error)] };
  }
}
