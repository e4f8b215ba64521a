import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  ConfluentSchemaRegistry, builtInSchemaId, createAvroCodec, eventSchema, openKafkaSchemaRegistry, openSchemaRegistry,
  parseSchema, type AvroSchema, type SchemaRegistry,
} from '../../src/avro/index.js';
import { isTracestreamError } from '../../src/errors/index.js';
import { startFakeConfluentRegistry, type FakeConfluentRegistry } from './fake-confluent-registry.js';
import { lineDiff, plain } from './fixtures.js';
import { startMockCluster, type MockCluster } from './mock-cluster.js';

const TIMEOUT_MS = 60_000;
const v1 = { type: 'record', name: 'Thing', namespace: 'test', doc: 'v1', fields: [{ name: 'n', type: 'int' }] };
const v2 = { ...v1, doc: 'v2', fields: [...v1.fields, { name: 'label', type: 'string', default: '' }] };
const needsLabel = { ...v1, fields: [...v1.fields, { name: 'label', type: 'string' }] };
const retyped = { ...v1, fields: [{ name: 'n', type: 'string' }] };

describe('ConfluentSchemaRegistry (HTTP client)', { timeout: TIMEOUT_MS }, () => {
  let server: FakeConfluentRegistry;
  before(async () => { server = await startFakeConfluentRegistry(); });
  after(() => server.close());

  test('register returns the same id for the same schema, and getById returns that schema', async () => {
    const registry = new ConfluentSchemaRegistry(server.url);
    const id = await registry.register('test.Thing', v1);
    assert.equal(await registry.register('test.Thing', v1), id);
    assert.deepEqual(await new ConfluentSchemaRegistry(server.url).getById(id), v1);
  });

  test('refuses a new required field and an int → string change with SCHEMA_INCOMPATIBLE; accepts a field with a default', async () => {
    const registry = new ConfluentSchemaRegistry(server.url);
    await registry.register('test.Evolving', v1);
    for (const bad of [needsLabel, retyped]) {
      const result = await registry.checkCompatible('test.Evolving', bad);
      assert.equal(result.compatible, false);
      assert.ok(!result.compatible && result.messages.length > 0);
      await assert.rejects(registry.register('test.Evolving', bad), (e: unknown) => isTracestreamError(e, 'SCHEMA_INCOMPATIBLE'));
    }
    assert.deepEqual(await registry.checkCompatible('test.Evolving', v2), { compatible: true });
    assert.equal(typeof await registry.register('test.Evolving', v2), 'number');
  });

  test('a subject without versions accepts any schema', async () => {
    assert.deepEqual(await new ConfluentSchemaRegistry(server.url).checkCompatible(`test.New${randomUUID()}`, retyped), { compatible: true });
  });

  test('getById of an id the registry lacks is SCHEMA_NOT_FOUND', async () => {
    await assert.rejects(new ConfluentSchemaRegistry(server.url).getById(424_242), (e: unknown) => isTracestreamError(e, 'SCHEMA_NOT_FOUND'));
  });

  test('credentials in the URL are sent as basic auth, not in the URL', async () => {
    const url = new URL(server.url);
    url.username = 'key';
    url.password = 's3cr:t';
    await new ConfluentSchemaRegistry(url.href).register('test.Auth', v1);
    assert.equal(server.authorizations.at(-1), `Basic ${Buffer.from('key:s3cr:t').toString('base64')}`);
  });

  test('a URL that is not http(s) is CONFIG_INVALID at construction', () => {
    assert.throws(() => new ConfluentSchemaRegistry('localhost:8081'), (e: unknown) => isTracestreamError(e, 'CONFIG_INVALID'));
  });

  test('openSchemaRegistry uses the Schema Registry when schemaRegistryUrl is set, and needs brokers otherwise', async () => {
    assert.ok(await openSchemaRegistry({ schemaRegistryUrl: server.url }) instanceof ConfluentSchemaRegistry);
    await assert.rejects(openSchemaRegistry({}), (e: unknown) => isTracestreamError(e, 'CONFIG_INVALID'));
  });
});

describe('built-in registry (compacted topic)', { timeout: TIMEOUT_MS }, () => {
  let cluster: MockCluster;
  const opened: SchemaRegistry[] = [];
  before(async () => { cluster = await startMockCluster(); });
  after(async () => {
    for (const r of opened) await r.close();
    await cluster.close();
  });

  /** Two registries on one topic, as two processes sharing the cluster would open them. */
  async function twoProcesses(): Promise<[SchemaRegistry, SchemaRegistry]> {
    const topic = `_tracestream_schemas_${randomUUID()}`;
    const a = await openKafkaSchemaRegistry({ brokers: cluster.bootstrapServers, topic, timeoutMs: 20_000 });
    const b = await openKafkaSchemaRegistry({ brokers: cluster.bootstrapServers, topic, timeoutMs: 20_000 });
    opened.push(a, b);
    return [a, b];
  }

  test('the id is the first 31 bits of the SHA-256 of the canonical form, whatever the docs', async () => {
    const canonical = JSON.stringify({ name: 'test.Thing', type: 'record', fields: [{ name: 'n', type: 'int' }] });
    const expected = createHash('sha256').update(canonical).digest().readUInt32BE(0) & 0x7fffffff;
    assert.equal(builtInSchemaId(parseSchema(v1)), expected);
    assert.equal(builtInSchemaId(parseSchema({ ...v1, doc: 'other words' })), expected);
  });

  test('two registries registering the same schema at once get the same id, and one decodes what the other encoded', async () => {
    const [a, b] = await twoProcesses();
    const [idA, idB] = await Promise.all([a.register('test.Thing', v1), b.register('test.Thing', v1)]);
    assert.equal(idA, builtInSchemaId(parseSchema(v1)));
    assert.equal(idB, idA);
    const bytes = await createAvroCodec(a).encode('LineDiff', lineDiff);
    assert.deepEqual(plain(await createAvroCodec(b).decode(bytes, 'LineDiff')), lineDiff);
    assert.deepEqual(await b.getById(bytes.readUInt32BE(1)), eventSchema('LineDiff').schema);
  });

  test('refuses a new required field and an int → string change with SCHEMA_INCOMPATIBLE, in every process', async () => {
    const [a, b] = await twoProcesses();
    await a.register('test.Thing', v1);
    for (const bad of [needsLabel, retyped]) {
      for (const registry of [a, b]) {
        await assert.rejects(registry.register('test.Thing', bad), (e: unknown) => isTracestreamError(e, 'SCHEMA_INCOMPATIBLE'));
        assert.equal((await registry.checkCompatible('test.Thing', bad)).compatible, false);
      }
    }
    const id2 = await b.register('test.Thing', v2);
    // v2 is now the latest: a schema only compatible with v1 would be checked against v2.
    assert.deepEqual(await a.checkCompatible('test.Thing', v2), { compatible: true });
    assert.deepEqual(await a.getById(id2), v2);
  });

  test('getById of an id nobody registered is SCHEMA_NOT_FOUND', async () => {
    const [a] = await twoProcesses();
    await assert.rejects(a.getById(builtInSchemaId(parseSchema(retyped))), (e: unknown) => isTracestreamError(e, 'SCHEMA_NOT_FOUND'));
  });

  test('a schema whose id collides with a different schema\'s is refused with SCHEMA_ID_COLLISION', async () => {
    const [first, second] = findCollision();
    assert.equal(builtInSchemaId(parseSchema(first)), builtInSchemaId(parseSchema(second)));
    const [a, b] = await twoProcesses();
    await a.register('test.A', first);
    await assert.rejects(b.register('test.B', second), (e: unknown) => isTracestreamError(e, 'SCHEMA_ID_COLLISION'));
    assert.deepEqual(await b.getById(builtInSchemaId(parseSchema(first))), first);
  });

  test('close is idempotent', async () => {
    const [a] = await twoProcesses();
    await a.close();
    await a.close();
  });
});

/** Two empty records whose ids collide: a birthday search over 31 bits, about 60 000 hashes. */
function findCollision(): [AvroSchema, AvroSchema] {
  const seen = new Map<number, number>();
  for (let i = 0; ; i++) {
    const canonical = `{"name":"C${i}","type":"record","fields":[]}`;
    const id = createHash('sha256').update(canonical).digest().readUInt32BE(0) & 0x7fffffff;
    const earlier = seen.get(id);
    if (earlier !== undefined) {
      return [{ type: 'record', name: `C${earlier}`, fields: [] }, { type: 'record', name: `C${i}`, fields: [] }];
    }
    seen.set(id, i);
  }
}
