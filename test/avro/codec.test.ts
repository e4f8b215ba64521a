import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  ConfluentSchemaRegistry, EVENT_TYPES, createAvroCodec, encodeWire, eventSchema, openKafkaSchemaRegistry,
  parseSchema, type AvroSchema, type SchemaRegistry,
} from '../../src/avro/index.js';
import { isTracestreamError, type ErrorCode } from '../../src/errors/index.js';
import { EVENTS, lineDiff, plain, trace } from './fixtures.js';
import { startFakeConfluentRegistry, type FakeConfluentRegistry } from './fake-confluent-registry.js';
import { startMockCluster, type MockCluster } from './mock-cluster.js';

const TIMEOUT_MS = 60_000;

let cluster: MockCluster;
let fake: FakeConfluentRegistry;
const closers: (() => Promise<void>)[] = [];

before(async () => {
  cluster = await startMockCluster();
  fake = await startFakeConfluentRegistry();
});

after(async () => {
  for (const close of closers) await close();
  await fake.close();
  await cluster.close();
});

const KINDS = {
  confluent: async () => {
    const server = await startFakeConfluentRegistry();
    closers.push(() => server.close());
    return new ConfluentSchemaRegistry(server.url);
  },
  'built-in': async () => {
    const registry = await openKafkaSchemaRegistry({ brokers: cluster.bootstrapServers, topic: `_schemas_${randomUUID()}`, timeoutMs: 20_000 });
    closers.push(() => registry.close());
    return registry;
  },
} satisfies Record<string, () => Promise<SchemaRegistry>>;

/** ExecutionTrace as it was before `outputFile` (a nullable field with a default) was added. */
function traceSchemaWithout(field: string): AvroSchema {
  const schema = structuredClone(eventSchema('ExecutionTrace').schema) as { fields: { name: string }[] };
  schema.fields = schema.fields.filter((f) => f.name !== field);
  return schema as unknown as AvroSchema;
}

function traceSchemaWith(...fields: Record<string, unknown>[]): AvroSchema {
  const schema = structuredClone(eventSchema('ExecutionTrace').schema) as { fields: unknown[] };
  schema.fields.push(...fields);
  return schema as unknown as AvroSchema;
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, details: Record<string, unknown> = {}): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isTracestreamError(error, code), `expected ${code}, got ${String(error)}`);
    for (const [k, v] of Object.entries(details)) assert.deepEqual(error.details[k], v, k);
    return true;
  });
}

for (const [kind, open] of Object.entries(KINDS)) {
  describe(`wire format with the ${kind} registry`, { timeout: TIMEOUT_MS }, () => {
    for (const eventType of EVENT_TYPES) {
      test(`${eventType} round-trips: magic byte 0, the registered id, and the same value back`, async () => {
        const registry = await open();
        const codec = createAvroCodec(registry);
        const bytes = await codec.encode(eventType, EVENTS[eventType]);
        const id = await registry.register(codec.subject(eventType), eventSchema(eventType).schema);
        assert.equal(bytes[0], 0);
        assert.equal(bytes.readUInt32BE(1), id);
        assert.deepEqual(plain(await codec.decode(bytes, eventType)), EVENTS[eventType]);
        assert.deepEqual(plain(await createAvroCodec(registry).decode(bytes)), EVENTS[eventType]);
      });
    }

    test('an incompatible writer schema is refused at registration: a new field without default, or int → string', async () => {
      const registry = await open();
      await createAvroCodec(registry).encode('ExecutionTrace', trace);
      const required = createAvroCodec(registry, { schemas: { ExecutionTrace: traceSchemaWith({ name: 'host', type: 'string', doc: 'no default' }) } });
      await rejectsWith(required.encode('ExecutionTrace', { ...trace, host: 'h' } as typeof trace), 'SCHEMA_INCOMPATIBLE');
      const retyped = traceSchemaWithout('inputIndex') as { fields: unknown[] };
      retyped.fields.push({ name: 'inputIndex', type: 'string', doc: 'was int' });
      const subject = 'io.tracestream.ExecutionTrace';
      assert.deepEqual((await registry.checkCompatible(subject, retyped as unknown as AvroSchema)).compatible, false);
      await rejectsWith(registry.register(subject, retyped as unknown as AvroSchema), 'SCHEMA_INCOMPATIBLE');
      // The refusals changed nothing: the current schema still registers as before.
      assert.deepEqual(await registry.checkCompatible(subject, eventSchema('ExecutionTrace').schema), { compatible: true });
    });
  });
}

describe('schema evolution', { timeout: TIMEOUT_MS }, () => {
  test('an old reader, without a field added later, reads records written with the new schema', async () => {
    const registry = await KINDS.confluent();
    const oldCodec = createAvroCodec(registry, { schemas: { ExecutionTrace: traceSchemaWithout('outputFile') } });
    const { outputFile: _dropped, ...oldTrace } = trace;
    await oldCodec.encode('ExecutionTrace', oldTrace as typeof trace); // the old schema is registered first
    const newBytes = await createAvroCodec(registry).encode('ExecutionTrace', trace);
    assert.deepEqual(plain(await oldCodec.decode(newBytes, 'ExecutionTrace')), oldTrace);
  });

  test('a new reader, with added fields that have defaults, reads old records and fills in the defaults', async () => {
    const registry = await KINDS['built-in']();
    const oldBytes = await createAvroCodec(registry).encode('ExecutionTrace', trace);
    const newCodec = createAvroCodec(registry, {
      schemas: {
        ExecutionTrace: traceSchemaWith(
          { name: 'host', type: ['null', 'string'], default: null, doc: 'added in v2' },
          { name: 'retries', type: 'int', default: 0, doc: 'added in v2' },
        ),
      },
    });
    assert.deepEqual(plain(await newCodec.decode(oldBytes, 'ExecutionTrace')), { ...trace, host: null, retries: 0 });
    // and the new schema is accepted as the next version of the subject
    const newBytes = await newCodec.encode('ExecutionTrace', { ...trace, host: 'h1', retries: 2 } as typeof trace);
    assert.deepEqual(plain(await newCodec.decode(newBytes, 'ExecutionTrace')), { ...trace, host: 'h1', retries: 2 });
  });

  test('traces from producers older than source, stdin and origin decode with them empty (replay reads old topics)', async () => {
    const registry = await KINDS['built-in']();
    const oldSchema = traceSchemaWithout('source') as { fields: { name: string }[] };
    oldSchema.fields = oldSchema.fields.filter((f) => f.name !== 'stdin' && f.name !== 'origin');
    const { source: _s, stdin: _i, origin: _o, ...oldTrace } = trace;
    const oldBytes = await createAvroCodec(registry, { schemas: { ExecutionTrace: oldSchema as unknown as AvroSchema } })
      .encode('ExecutionTrace', oldTrace as typeof trace);
    assert.deepEqual(plain(await createAvroCodec(registry).decode(oldBytes, 'ExecutionTrace')), { ...oldTrace, source: null, stdin: '', origin: {} });
  });
});

describe('codec', { timeout: TIMEOUT_MS }, () => {
  test('registers each writer schema once, however many events it encodes', async () => {
    const server = await startFakeConfluentRegistry();
    try {
      const codec = createAvroCodec(new ConfluentSchemaRegistry(server.url));
      await Promise.all([codec.encode('LineDiff', lineDiff), codec.encode('LineDiff', lineDiff)]);
      await codec.encode('LineDiff', { ...lineDiff, stepIndex: 1 });
      await codec.encode('ExecutionTrace', trace);
      assert.deepEqual(server.requests.filter((r) => r.startsWith('POST /subjects/')), [
        'POST /subjects/io.tracestream.LineDiff/versions', 'POST /subjects/io.tracestream.ExecutionTrace/versions',
      ]);
    } finally {
      await server.close();
    }
  });

  test('prepare registers the writer schemas up front, so later encodes make no registry call', async () => {
    const server = await startFakeConfluentRegistry();
    try {
      const codec = createAvroCodec(new ConfluentSchemaRegistry(server.url));
      await codec.prepare(['ExecutionTrace', 'LineDiff']);
      const registered = server.requests.filter((r) => r.startsWith('POST /subjects/')).sort();
      assert.deepEqual(registered, ['POST /subjects/io.tracestream.ExecutionTrace/versions', 'POST /subjects/io.tracestream.LineDiff/versions']);
      const before = server.requests.length;
      await codec.encode('LineDiff', lineDiff);
      await codec.encode('ExecutionTrace', trace);
      assert.equal(server.requests.length, before);
    } finally {
      await server.close();
    }
  });

  test('encodeMany gives the same bytes as encode for each value, in order, and refuses a bad one by field', async () => {
    const codec = createAvroCodec(new ConfluentSchemaRegistry(fake.url));
    const diffs = [0, 1, 2].map((stepIndex) => ({ ...lineDiff, stepIndex }));
    const many = await codec.encodeMany('LineDiff', diffs);
    assert.deepEqual(many, await Promise.all(diffs.map((diff) => codec.encode('LineDiff', diff))));
    assert.deepEqual((await Promise.all(many.map((bytes) => codec.decode(bytes, 'LineDiff')))).map((d) => d.stepIndex), [0, 1, 2]);
    await rejectsWith(codec.encodeMany('LineDiff', [lineDiff, { ...lineDiff, depth: 'deep' as unknown as number }]), 'INPUT_INVALID', { fields: ['depth'] });
  });

  test('decodeFields gives only the fields asked for, with the values a full decode gives, also from an older writer schema', async () => {
    const registry = new ConfluentSchemaRegistry(fake.url);
    const codec = createAvroCodec(registry);
    const bytes = await codec.encode('ExecutionTrace', trace);
    const fields = ['problemId', 'stepCount', 'limits', 'origin'] as const;
    const some = await codec.decodeFields(bytes, 'ExecutionTrace', fields);
    assert.deepEqual(Object.keys(plain(some) as object).sort(), [...fields].sort());
    const full = await codec.decode(bytes, 'ExecutionTrace');
    for (const field of fields) assert.deepEqual(plain(some[field]), plain(full[field]), field);

    const { outputFile: _dropped, ...oldTrace } = trace;
    const oldBytes = await createAvroCodec(registry, { schemas: { ExecutionTrace: traceSchemaWithout('outputFile') } }).encode('ExecutionTrace', oldTrace as typeof trace);
    assert.deepEqual(plain(await codec.decodeFields(oldBytes, 'ExecutionTrace', ['runId', 'outputFile'])), { runId: trace.runId, outputFile: null });
  });

  test('decodeFields refuses a field the event type does not have, and a cut message as a full decode does', async () => {
    const codec = createAvroCodec(new ConfluentSchemaRegistry(fake.url));
    const bytes = await codec.encode('ExecutionTrace', trace);
    await assert.rejects(codec.decodeFields(bytes, 'ExecutionTrace', ['problemId', 'nope' as 'problemId']), (error: unknown) => isTracestreamError(error, 'INPUT_INVALID') && /no field nope/.test(error.message));
    await rejectsWith(codec.decodeFields(bytes.subarray(0, bytes.length - 3), 'ExecutionTrace', ['problemId']), 'DECODE_FAILED', { reason: 'truncated' });
  });

  test('a value its schema refuses is INPUT_INVALID naming the field', async () => {
    const codec = createAvroCodec(new ConfluentSchemaRegistry(fake.url));
    await rejectsWith(codec.encode('LineDiff', { ...lineDiff, line: 'seven' as unknown as number }), 'INPUT_INVALID', { fields: ['line'] });
  });
});

describe('decode errors are DECODE_FAILED with a reason', { timeout: TIMEOUT_MS }, () => {
  let good: Buffer;
  let codec: ReturnType<typeof createAvroCodec>;
  let registry: ConfluentSchemaRegistry;
  before(async () => {
    registry = new ConfluentSchemaRegistry(fake.url);
    codec = createAvroCodec(registry);
    good = await codec.encode('LineDiff', lineDiff);
  });

  test('fewer bytes than the header: too-short', async () => {
    await rejectsWith(codec.decode(Buffer.from([0, 0, 0])), 'DECODE_FAILED', { reason: 'too-short' });
  });

  test('a first byte other than 0: bad-magic-byte', async () => {
    await rejectsWith(codec.decode(Buffer.from('{"json": true}')), 'DECODE_FAILED', { reason: 'bad-magic-byte', magicByte: 0x7b });
  });

  test('an id the registry does not know: unknown-schema-id', async () => {
    const unknown = Buffer.from(good);
    unknown.writeUInt32BE(987_654, 1);
    await rejectsWith(codec.decode(unknown, 'LineDiff'), 'DECODE_FAILED', { reason: 'unknown-schema-id', schemaId: 987_654 });
  });

  test('a body cut short: truncated', async () => {
    await rejectsWith(codec.decode(good.subarray(0, good.length - 3), 'LineDiff'), 'DECODE_FAILED', { reason: 'truncated' });
  });

  test('bytes after the value: trailing-bytes', async () => {
    await rejectsWith(codec.decode(Buffer.concat([good, Buffer.from([1, 2])]), 'LineDiff'), 'DECODE_FAILED', { reason: 'trailing-bytes' });
  });

  test('a writer schema that is no event: unknown-event-type, and incompatible-writer when read as one, naming the event type and the projection read', async () => {
    const other = { type: 'record', name: 'Other', namespace: 'elsewhere', fields: [{ name: 'n', type: 'int' }] };
    const id = await registry.register('elsewhere.Other', other);
    const bytes = encodeWire(id, parseSchema(other), { n: 1 });
    await rejectsWith(codec.decode(bytes), 'DECODE_FAILED', { reason: 'unknown-event-type', schemaId: id });
    await rejectsWith(codec.decode(bytes, 'LineDiff'), 'DECODE_FAILED', { reason: 'incompatible-writer', schemaId: id, eventType: 'LineDiff' });
    await rejectsWith(codec.decodeFields(bytes, 'LineDiff', ['runId']), 'DECODE_FAILED', {
      reason: 'incompatible-writer', schemaId: id, eventType: 'LineDiff', projection: 'LineDiff{runId}',
    });
  });

  test('an unreachable registry is SCHEMA_REGISTRY_UNAVAILABLE and retriable, not a decode failure', async () => {
    const gone = await startFakeConfluentRegistry();
    await gone.close();
    const offline = createAvroCodec(new ConfluentSchemaRegistry(gone.url, { requestTimeoutMs: 5_000 }));
    await assert.rejects(offline.decode(good), (e: unknown) => isTracestreamError(e, 'SCHEMA_REGISTRY_UNAVAILABLE') && e.retriable);
  });
});
