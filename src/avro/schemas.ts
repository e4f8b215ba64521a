import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type avro from 'avsc';
import { TracestreamError, describeError } from '../errors/index.js';
import { EVENT_NAMESPACE, EVENT_TYPES, type EventType } from './events.js';

import { parseSchema, type AvroSchema } from './compatibility.js';

/**
 * The package's `schemas/` folder. Located from this module's own URL so that it is found the same
 * way from `src/avro/schemas.ts` and from `dist/src/avro/schemas.js` (three levels up is the package
 * root in both).
 */
export const SCHEMAS_DIR = fileURLToPath(new URL('../../../schemas/', import.meta.url));

export interface EventSchema {
  /** The schema as written in its `.avsc` file, docs and defaults included. */
  schema: AvroSchema;
  type: avro.Type;
}

const cache = new Map<string, EventSchema>();

/**
 * Reads and parses `schemas/<eventType>.avsc` (once per process), and checks that it declares the
 * record `io.tracestream.<eventType>`.
 *
 * @example
 * const { type } = eventSchema('ExecutionTrace')
 * type.isValid(trace)
 */
export function eventSchema(eventType: EventType, dir: string = SCHEMAS_DIR): EventSchema {
  const path = join(dir, `${eventType}.avsc`);
  const cached = cache.get(path);
  if (cached) return cached;
  let loaded: EventSchema;
  try {
    const schema = JSON.parse(readFileSync(path, 'utf8')) as AvroSchema;
    loaded = { schema, type: parseSchema(schema) };
  } catch (error) {
    throw new TracestreamError('CONFIG_INVALID', `cannot load the Avro schema ${path}: ${describeError(error)}`, {
      cause: error, details: { path },
    });
  }
  const expected = `${EVENT_NAMESPACE}.${eventType}`;
  if (loaded.type.name !== expected) {
    throw new TracestreamError('CONFIG_INVALID', `${path} declares ${loaded.type.name ?? 'an unnamed type'}, expected the record ${expected}`, {
      details: { path },
    });
  }
  cache.set(path, loaded);
  return loaded;
}

/** All four event schemas, keyed by event type. */
export function eventSchemas(dir: string = SCHEMAS_DIR): Record<EventType, EventSchema> {
  return Object.fromEntries(EVENT_TYPES.map((t) => [t, eventSchema(t, dir)])) as Record<EventType, EventSchema>;
}
