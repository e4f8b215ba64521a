import { z } from 'zod';
import type avro from 'avsc';
import { TracestreamError, describeError } from '../errors/index.js';
import { checkBackward, parseSchema, type AvroSchema, type CompatibilityResult } from './compatibility.js';
import type { SchemaRegistry } from './registry.js';
import { openSchemaLog, type LogRecord, type SchemaLog } from './schema-log.js';

export const DEFAULT_SCHEMA_TOPIC = '_tracestream_schemas';

export interface KafkaSchemaRegistryOptions {
  /** bootstrap.servers of the cluster that holds the schema topic. */
  brokers: string;
  /** Default `_tracestream_schemas`. Create it compacted (cleanup.policy=compact); otherwise it is auto-created on first use. */
  topic?: string;
  /** Limit of connecting, of one registration and of one read of the topic, in milliseconds. Default 10 000. */
  timeoutMs?: number;
  /** Extra librdkafka properties (security settings, ...). */
  kafkaConfig?: Record<string, string | number | boolean>;
}

/** One record of the schema topic, keyed `${subject}/${id}`, as JSON (like the Schema Registry's `_schemas`). */
const SchemaRecord = z.object({
  subject: z.string().min(1),
  version: z.number().int().positive(),
  id: z.number().int().positive(),
  /** The schema text as registered, docs and defaults included. */
  schema: z.string(),
});
type SchemaRecord = z.infer<typeof SchemaRecord>;

interface Known {
  schema: AvroSchema;
  type: avro.Type;
  canonical: string;
}

/**
 * The id of a schema in the built-in registry: the first 31 bits of the SHA-256 of its Parsing
 * Canonical Form (avsc's `fingerprint('sha256')`), or 1 where those bits are all zero.
 *
 * Why derived instead of counted: processes that share a cluster register schemas without talking
 * to each other, so a counter would need a leader or a lock, and two processes starting together
 * would hand out the same number for different schemas. A fingerprint gives every process the same
 * id for the same schema with no coordination, and re-registration is idempotent.
 *
 * Why canonical form: two schemas with the same canonical form (they differ only in docs, defaults,
 * aliases) encode every value to the same bytes, so a writer id needs nothing more. The first text
 * registered for an id is the one kept.
 *
 * Collisions: 31 bits make one likely only among tens of thousands of distinct schemas, but it is
 * detected, never silent: an id that already maps to a different canonical form is refused
 * (`SCHEMA_ID_COLLISION`) at registration, and if two processes raced colliding schemas into the
 * topic, reading the second one marks the id as ambiguous and `getById` refuses it too.
 */
export function builtInSchemaId(type: avro.Type): number {
  return (type.fingerprint('sha256').readUInt32BE(0) & 0x7fff_ffff) || 1;
}

/**
 * Opens the built-in schema registry: schemas kept in a compacted Kafka topic, so that every process
 * sharing the cluster agrees on them without a Schema Registry server. Used when
 * SCHEMA_REGISTRY_URL is unset. Ids are deterministic (see `builtInSchemaId`); compatibility is
 * BACKWARD against the subject's latest version, decided by avsc's resolver.
 *
 * The topic is read from the beginning on first use and cached; a lookup that misses reads what was
 * appended since. Versions number a subject's schemas in the order they were registered; two
 * processes registering *different* schemas under one subject at the same moment may both be
 * checked against the same previous version (the same schema is safe: same id, same record key).
 *
 * @example
 * const registry = await openKafkaSchemaRegistry({ brokers: 'localhost:9092' })
 * try { const id = await registry.register('io.tracestream.LineDiff', schema) } finally { await registry.close() }
 */
export async function openKafkaSchemaRegistry(options: KafkaSchemaRegistryOptions): Promise<SchemaRegistry> {
  const topic = options.topic ?? DEFAULT_SCHEMA_TOPIC;
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (options.brokers.trim() === '') throw new TracestreamError('CONFIG_INVALID', 'brokers: must name at least one host:port');
  if (topic.trim() === '') throw new TracestreamError('CONFIG_INVALID', 'topic: must not be empty');
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new TracestreamError('CONFIG_INVALID', `timeoutMs: ${timeoutMs} must be a positive integer`);
  const log = await openSchemaLog({ brokers: options.brokers, topic, timeoutMs, ...(options.kafkaConfig ? { kafkaConfig: options.kafkaConfig } : {}) });
  return new KafkaSchemaRegistry(log, topic);
}

class KafkaSchemaRegistry implements SchemaRegistry {
  readonly #log: SchemaLog;
  readonly #topic: string;
  readonly #byId = new Map<number, Known>();
  /** Ids two different canonical forms were written under. */
  readonly #ambiguous = new Set<number>();
  /** Per subject, its versions in registration order (latest last). */
  readonly #subjects = new Map<string, { version: number; id: number; writer: Known }[]>();
  #catchingUp: Promise<void> | undefined;
  // Registrations of this process run one at a time, so that each sees the previous one's version.
  #registering: Promise<unknown> = Promise.resolve();

  constructor(log: SchemaLog, topic: string) {
    this.#log = log;
    this.#topic = topic;
  }

  register(subject: string, schema: AvroSchema): Promise<number> {
    const run = this.#registering.then(() => this.#register(subject, schema));
    this.#registering = run.catch(() => undefined); // a refused registration must not block the next
    return run;
  }

  async getById(id: number): Promise<AvroSchema> {
    if (!this.#byId.has(id)) await this.#catchUp();
    this.#refuseAmbiguous(id);
    const known = this.#byId.get(id);
    if (!known) throw new TracestreamError('SCHEMA_NOT_FOUND', `no schema with id ${id} in ${this.#topic}`, { details: { schemaId: id, topic: this.#topic } });
    return known.schema;
  }

  async checkCompatible(subject: string, schema: AvroSchema): Promise<CompatibilityResult> {
    await this.#catchUp();
    return this.#compatibility(subject, parse(schema));
  }

  close(): Promise<void> {
    return this.#log.close();
  }

  async #register(subject: string, schema: AvroSchema): Promise<number> {
    const type = parse(schema);
    const canonical = JSON.stringify(type.schema());
    const id = builtInSchemaId(type);
    await this.#catchUp();
    this.#refuseAmbiguous(id);
    const known = this.#byId.get(id);
    if (known && known.canonical !== canonical) {
      throw new TracestreamError('SCHEMA_ID_COLLISION', `schema id ${id} already belongs to a different schema in ${this.#topic}; rename the record or change a field name`, {
        details: { schemaId: id, subject },
      });
    }
    const versions = this.#subjects.get(subject) ?? [];
    if (versions.some((v) => v.id === id)) return id;
    const result = this.#compatibility(subject, type);
    if (!result.compatible) {
      throw new TracestreamError('SCHEMA_INCOMPATIBLE', `schema for ${subject} cannot read its latest version (BACKWARD): ${result.messages.join('; ')}`, {
        details: { subject, schemaId: id },
      });
    }
    const record: SchemaRecord = { subject, version: (versions.at(-1)?.version ?? 0) + 1, id, schema: JSON.stringify(schema) };
    await this.#log.append(`${subject}/${id}`, Buffer.from(JSON.stringify(record)));
    await this.#catchUp();
    return id;
  }

  #compatibility(subject: string, type: avro.Type): CompatibilityResult {
    const latest = this.#subjects.get(subject)?.at(-1);
    if (!latest) return { compatible: true };
    return checkBackward(type, latest.writer.type);
  }

  #refuseAmbiguous(id: number): void {
    if (this.#ambiguous.has(id)) {
      throw new TracestreamError('SCHEMA_ID_COLLISION', `schema id ${id} was registered for two different schemas in ${this.#topic}`, { details: { schemaId: id } });
    }
  }

  /** Reads what was appended since the last read; concurrent callers share one read. */
  #catchUp(): Promise<void> {
    this.#catchingUp ??= this.#log.readNew()
      .then((records) => { for (const r of records) this.#apply(r); })
      .finally(() => { this.#catchingUp = undefined; });
    return this.#catchingUp;
  }

  #apply(record: LogRecord): void {
    if (record.value === null) return; // a tombstone: the version was deleted; ids stay valid for old data
    let parsed: SchemaRecord;
    let type: avro.Type;
    try {
      parsed = SchemaRecord.parse(JSON.parse(record.value.toString('utf8')));
      type = parse(JSON.parse(parsed.schema) as AvroSchema);
    } catch (error) {
      throw new TracestreamError('SCHEMA_REGISTRY_UNAVAILABLE', `${this.#topic} offset ${record.offset} is not a schema record: ${describeError(error)}`, {
        cause: error, details: { topic: this.#topic, offset: record.offset },
      });
    }
    const canonical = JSON.stringify(type.schema());
    if (builtInSchemaId(type) !== parsed.id) {
      throw new TracestreamError('SCHEMA_REGISTRY_UNAVAILABLE', `${this.#topic} offset ${record.offset} gives schema id ${parsed.id}, but its schema's id is ${builtInSchemaId(type)}`, {
        details: { topic: this.#topic, offset: record.offset },
      });
    }
    const writer: Known = { schema: JSON.parse(parsed.schema) as AvroSchema, type, canonical };
    const known = this.#byId.get(parsed.id);
    if (known && known.canonical !== canonical) this.#ambiguous.add(parsed.id);
    if (!known) this.#byId.set(parsed.id, writer);
    const versions = this.#subjects.get(parsed.subject) ?? [];
    if (!versions.some((v) => v.id === parsed.id)) versions.push({ version: parsed.version, id: parsed.id, writer });
    versions.sort((a, b) => a.version - b.version); // stable: equal versions (a race) keep log order
    this.#subjects.set(parsed.subject, versions);
  }
}

function parse(schema: AvroSchema): avro.Type {
  try {
    return parseSchema(schema);
  } catch (error) {
    throw new TracestreamError('INPUT_INVALID', `not a valid Avro schema: ${describeError(error)}`, { cause: error });
  }
}
