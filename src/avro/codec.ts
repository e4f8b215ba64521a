import type avro from 'avsc';
import { TracestreamError, describeError, isTracestreamError } from '../errors/index.js';
import { parseSchema, type AvroSchema } from './compatibility.js';
import { EVENT_TYPES, type EventType, type EventTypes, type TracestreamEvent } from './events.js';
import type { SchemaRegistry } from './registry.js';
import { eventSchema } from './schemas.js';
import { decodeBody, decodeFailed, encodeWire, readWireHeader } from './wire.js';

export interface AvroCodec {
  /** Encodes an event in wire format, registering its schema on first use. Throws `INPUT_INVALID` (naming the fields) for a value the schema refuses. */
  encode<K extends EventType>(eventType: K, value: EventTypes[K]): Promise<Buffer>;
  /** Registers the writer schemas of these event types now, so that the first encode does not wait for the registry. */
  prepare(eventTypes: readonly EventType[]): Promise<void>;
  /** Encodes many events of one type with a single schema lookup (a run's diffs). Same errors as `encode`. */
  encodeMany<K extends EventType>(eventType: K, values: readonly EventTypes[K][]): Promise<Buffer[]>;
  /**
   * Decodes a message into `readerType`, whatever compatible version of it the writer used. Records
   * come back as instances of avsc's generated classes: their own fields are those of the interface.
   */
  decode<K extends EventType>(message: Buffer, readerType: K): Promise<EventTypes[K]>;
  /** Decodes a message into the event type its writer schema names. */
  decode(message: Buffer): Promise<TracestreamEvent>;
  /**
   * Decodes only `fields` of `readerType` (top-level fields), skipping the others' bytes without
   * building them: what a reader that needs a few small fields of large events pays (a trace's
   * steps are most of its size and almost all of its decoding). The message is checked as far as
   * skipping needs (lengths, union branches, its end); the skipped values' contents are not, so
   * this is for messages already decoded once in full, or whose other fields do not matter.
   */
  decodeFields<K extends EventType, F extends keyof EventTypes[K] & string>(message: Buffer, readerType: K, fields: readonly F[]): Promise<Pick<EventTypes[K], F>>;
  /** The registry subject of an event type: its full record name, e.g. `io.tracestream.LineDiff`. */
  subject(eventType: EventType): string;
}

export interface AvroCodecOptions {
  /**
   * The schema this process writes and reads each event type with, where it is not the package's own
   * `schemas/<EventType>.avsc`: an older or newer version, as another build of tracestream would have.
   */
  schemas?: Partial<Record<EventType, AvroSchema>>;
}

type Resolver = ReturnType<avro.Type['createResolver']>;

/**
 * Encodes and decodes tracestream events in the Confluent wire format, with schemas kept in
 * `registry`.
 *
 * Subjects follow the record-name strategy (`io.tracestream.ExecutionTrace`), not `<topic>-value`:
 * an event type is encoded without knowing its topic, and the same event travels through several
 * (its own topic, dead letters, replays); compatibility is a property of the event type, so that is
 * what a subject names. Each writer schema is registered once per codec; writer schemas and
 * resolvers are cached by id, since an id never changes meaning.
 *
 * Failures to decode are `DECODE_FAILED` with `details.reason` (see `DecodeFailure`); a registry that
 * cannot be reached is `SCHEMA_REGISTRY_UNAVAILABLE` (retriable) instead, because the message itself
 * may be fine.
 *
 * @example
 * const codec = createAvroCodec(registry)
 * const bytes = await codec.encode('LineDiff', diff)
 * const same = await codec.decode(bytes, 'LineDiff')
 */
export function createAvroCodec(registry: SchemaRegistry, options: AvroCodecOptions = {}): AvroCodec {
  const readers = new Map<EventType, avro.Type>();
  const schemas = new Map<EventType, AvroSchema>();
  const byName = new Map<string, EventType>();
  for (const eventType of EVENT_TYPES) {
    const override = options.schemas?.[eventType];
    const { schema, type } = override ? { schema: override, type: parse(override, eventType) } : eventSchema(eventType);
    readers.set(eventType, type);
    schemas.set(eventType, schema);
    byName.set(type.name ?? eventType, eventType);
  }
  const readerOf = (eventType: EventType): avro.Type => {
    const type = readers.get(eventType);
    if (!type) throw new TracestreamError('INPUT_INVALID', `${String(eventType)} is not an event type; expected one of ${EVENT_TYPES.join(', ')}`);
    return type;
  };
  const subject = (eventType: EventType): string => readerOf(eventType).name ?? eventType;

  /** Reader types of `fields` only, by event type and fields, made on first use. */
  const projections = new Map<string, avro.Type>();
  const projectionOf = (eventType: EventType, fields: readonly string[]): { key: string; type: avro.Type } => {
    const key = `${eventType}{${fields.join(',')}}`;
    let type = projections.get(key);
    if (type === undefined) {
      readerOf(eventType);
      const schema = schemas.get(eventType) as AvroSchema & { fields: { name: string }[] };
      const unknown = fields.filter((field) => !schema.fields.some((f) => f.name === field));
      if (unknown.length > 0) throw new TracestreamError('INPUT_INVALID', `${eventType} has no field ${unknown.join(', ')}`);
      type = parse({ ...schema, fields: schema.fields.filter((f) => fields.includes(f.name)) }, eventType);
      projections.set(key, type);
    }
    return { key, type };
  };

  const writerIds = new Map<EventType, Promise<number>>();
  const writers = new Map<number, Promise<avro.Type>>();
  const resolvers = new Map<string, Resolver | undefined>();

  // Cached as promises so that concurrent first uses share one registry call; a failure is forgotten so the next call retries.
  function writerIdOf(eventType: EventType): Promise<number> {
    let id = writerIds.get(eventType);
    if (!id) {
      id = registry.register(subject(eventType), schemas.get(eventType) as AvroSchema);
      id.catch(() => writerIds.delete(eventType));
      writerIds.set(eventType, id);
    }
    return id;
  }

  function writerOf(schemaId: number): Promise<avro.Type> {
    let writer = writers.get(schemaId);
    if (!writer) {
      writer = registry.getById(schemaId).then((schema) => parseSchema(schema));
      writer.catch(() => writers.delete(schemaId));
      writers.set(schemaId, writer);
    }
    return writer;
  }

  /** `projectionKey`: when the reader is a projection of `eventType`, its key. */
  function resolverOf(schemaId: number, writer: avro.Type, eventType: EventType, reader: avro.Type, projectionKey?: string): Resolver | undefined {
    const readerKey = projectionKey ?? eventType;
    const key = `${schemaId}/${readerKey}`;
    if (resolvers.has(key)) return resolvers.get(key);
    let resolver: Resolver | undefined;
    try {
      resolver = reader.equals(writer) ? undefined : reader.createResolver(writer);
    } catch (error) {
      throw decodeFailed('incompatible-writer', `writer schema ${schemaId} (${writer.name ?? writer.typeName}) cannot be read as ${readerKey}: ${describeError(error)}`, { schemaId, eventType, ...(projectionKey === undefined ? {} : { projection: projectionKey }) }, error);
    }
    resolvers.set(key, resolver);
    return resolver;
  }

  async function encode<K extends EventType>(eventType: K, value: EventTypes[K]): Promise<Buffer> {
    return encodeWith(eventType, readerOf(eventType), await writerIdOf(eventType), value);
  }

  async function encodeMany<K extends EventType>(eventType: K, values: readonly EventTypes[K][]): Promise<Buffer[]> {
    const type = readerOf(eventType);
    const schemaId = await writerIdOf(eventType);
    return values.map((value) => encodeWith(eventType, type, schemaId, value));
  }

  function encodeWith(eventType: EventType, type: avro.Type, schemaId: number, value: unknown): Buffer {
    try {
      return encodeWire(schemaId, type, value);
    } catch (error) {
      const paths: string[] = [];
      type.isValid(value, { errorHook: (path) => paths.push(path.join('.') || '(the value itself)') });
      throw new TracestreamError('INPUT_INVALID', `${eventType} does not match its schema at ${paths.join(', ') || describeError(error)}`, {
        cause: error, details: { eventType, fields: paths },
      });
    }
  }

  async function writerOfMessage(schemaId: number): Promise<avro.Type> {
    try {
      return await writerOf(schemaId);
    } catch (error) {
      if (!isTracestreamError(error, 'SCHEMA_NOT_FOUND')) throw error;
      throw decodeFailed('unknown-schema-id', `unknown schema id ${schemaId}: the registry has no such schema`, { schemaId }, error);
    }
  }

  async function decode(message: Buffer, readerType?: EventType): Promise<TracestreamEvent> {
    const { schemaId, body } = readWireHeader(message);
    const writer = await writerOfMessage(schemaId);
    const eventType = readerType ?? (writer.name === undefined ? undefined : byName.get(writer.name));
    if (eventType === undefined) {
      throw decodeFailed('unknown-event-type', `schema ${schemaId} (${writer.name ?? writer.typeName}) is not a tracestream event`, { schemaId });
    }
    const reader = readerOf(eventType);
    return decodeBody(body, reader, resolverOf(schemaId, writer, eventType, reader), schemaId) as TracestreamEvent;
  }

  async function decodeFields(message: Buffer, readerType: EventType, fields: readonly string[]): Promise<unknown> {
    const { key, type } = projectionOf(readerType, fields);
    const { schemaId, body } = readWireHeader(message);
    const writer = await writerOfMessage(schemaId);
    return decodeBody(body, type, resolverOf(schemaId, writer, readerType, type, key), schemaId);
  }

  async function prepare(eventTypes: readonly EventType[]): Promise<void> {
    await Promise.all(eventTypes.map((eventType) => writerIdOf(eventType)));
  }

  return { encode, encodeMany, prepare, decode: decode as AvroCodec['decode'], decodeFields: decodeFields as AvroCodec['decodeFields'], subject };
}

function parse(schema: AvroSchema, eventType: EventType): avro.Type {
  try {
    return parseSchema(schema);
  } catch (error) {
    throw new TracestreamError('CONFIG_INVALID', `schemas.${eventType}: not a valid Avro schema: ${describeError(error)}`, { cause: error });
  }
}
