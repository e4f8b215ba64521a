import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkBackward, createAvroCodec, eventSchema, parseSchema, type AvroSchema, type ExecutionTrace, type SchemaRegistry } from '../../src/avro/index.js';
import type { ConsumedRecord } from '../../src/kafka/index.js';
import { DEFAULT_TRACE_TOPICS, encodeDeadLetter, encodeOutputs, eventBoundsSchema, fitTrace } from '../../src/pipeline/index.js';
import { solution, trace } from '../avro/fixtures.js';

/** Schemas by id, in memory: what the codec needs of a registry, for tests that encode without a broker. */
function memoryRegistry(): SchemaRegistry {
  const schemas: AvroSchema[] = [];
  return {
    async register(_subject, schema) {
      const found = schemas.findIndex((known) => JSON.stringify(known) === JSON.stringify(schema));
      return found === -1 ? schemas.push(schema) : found + 1;
    },
    async getById(id) {
      return schemas[id - 1]!;
    },
    async checkCompatible() {
      return { compatible: true };
    },
    async close() {},
  };
}

const codec = createAvroCodec(memoryRegistry());
const small = eventBoundsSchema.parse({ maxMessageBytes: 256 * 1024 });

/** The 60 MB trace of issue 9: a long function name and long source lines, repeated in every step. */
function hugeTrace(steps: number): { trace: ExecutionTrace; source: string } {
  const name = `f${'n'.repeat(10_000)}`;
  const source = `def ${name}():\n    x = ${'1 + '.repeat(2_500)}1\n`;
  return {
    source,
    trace: {
      ...trace,
      steps: Array.from({ length: steps }, (_, index) => ({
        index, event: 'line' as const, line: 2, depth: 1, function: name,
        changes: [{ name: 'x', kind: 'modified' as const, value: String(index) }], value: null, exception: null, stdout: '',
      })),
      stepCount: steps,
      traceTruncated: false,
    },
  };
}

test('a long function name and long source lines repeated in every step make events within the message size, marked as cut', async () => {
  const { trace: big, source } = hugeTrace(6_000);
  const records = await encodeOutputs(codec, DEFAULT_TRACE_TOPICS, { ...solution, source }, [big], 0, small);
  for (const record of records) assert.ok(record.value!.length <= small.maxMessageBytes, `${record.topic}: ${record.value!.length} bytes`);
  const fitted = await codec.decode(records[0]!.value!, 'ExecutionTrace');
  assert.deepEqual([...fitted.cut].sort(), ['names', 'steps']);
  assert.equal(fitted.traceTruncated, true);
  assert.ok(fitted.steps.length > 0 && fitted.steps.length < 6_000);
  assert.match(fitted.steps[0]!.function, /^fnnn.*…\(10001 chars\)$/);
  assert.equal(fitted.stepCount, 6_000);
  const diff = await codec.decode(records[1]!.value!, 'LineDiff');
  assert.match(diff.sourceLine, /…\(\d+ chars\)$/);
  assert.ok(diff.sourceLine.length < small.sourceLineChars + 20);
});

test('a program whose source alone is past the message size becomes a trace with its source and stdin cut, not a dead letter', async () => {
  const source = `${'print("a long program")\n'.repeat(20_000)}`;
  const stdin = 'x'.repeat(300 * 1024);
  assert.ok(source.length > small.maxMessageBytes);
  const records = await encodeOutputs(codec, DEFAULT_TRACE_TOPICS, { ...solution, source }, [{ ...trace, source, stdin, cut: [] }], 0, small);
  for (const record of records) assert.ok(record.value!.length <= small.maxMessageBytes, `${record.topic}: ${record.value!.length} bytes`);
  const fitted = await codec.decode(records[0]!.value!, 'ExecutionTrace');
  assert.deepEqual([...fitted.cut].sort(), ['source', 'stdin']);
  assert.ok(source.startsWith(fitted.source!.replace(/…\(\d+ chars\)$/, '')), 'the start of the source is kept');
  assert.match(fitted.source!, new RegExp(`…\\(${source.length} chars\\)$`));
  assert.match(fitted.stdin, new RegExp(`…\\(${stdin.length} chars\\)$`));
  assert.equal(fitted.steps.length, trace.steps.length, 'the steps still fit beside the cut texts');
});

test('origin values past the value bound are cut and named', () => {
  const fitted = fitTrace({ ...trace, origin: { repo: 'r', url: 'u'.repeat(10_000) }, cut: [] }, small, 100);
  assert.deepEqual(fitted.cut, ['origin']);
  assert.equal(fitted.origin['repo'], 'r');
  assert.match(fitted.origin['url']!, /…\(10000 chars\)$/);
});

test('a trace within bounds is left as it is, with nothing cut', () => {
  const fitted = fitTrace({ ...trace, cut: [] }, small, 100);
  assert.deepEqual(fitted, { ...trace, cut: [] });
});

test('program texts that take most of the room are cut to a twelfth each and named', () => {
  const fitted = fitTrace({ ...trace, stdout: 'o'.repeat(200_000), outputFile: 'f'.repeat(100_000) }, small, 100);
  assert.deepEqual([...fitted.cut].sort(), ['outputFile', 'stdout']);
  assert.ok(fitted.stdout.length < 20_000);
});

test('a trace whose run id alone cannot fit is EVENT_TOO_LARGE (the input\'s fault)', () => {
  const runId = 'r'.repeat(300_000);
  assert.throws(() => fitTrace({ ...trace, runId }, small, runId.length), (error: unknown) => (error as { code?: string }).code === 'EVENT_TOO_LARGE');
});

test('a dead letter of a record near the message size is cut to fit, naming what was left out', async () => {
  const record: ConsumedRecord = {
    topic: 'solutions', partition: 0, offset: '7', key: Buffer.from('k'.repeat(1000)), value: Buffer.alloc(250 * 1024, 1),
    headers: { origin: Buffer.alloc(8 * 1024, 2) }, timestampMs: 0, ack() {},
  };
  const out = await encodeDeadLetter(codec, DEFAULT_TRACE_TOPICS, record, `bad ${'x'.repeat(10_000)}`, new Error('boom'), small);
  const headerBytes = Object.entries(out.headers ?? {}).reduce((sum, [name, value]) => sum + name.length + Buffer.byteLength(value), 0);
  assert.ok(out.value!.length + (out.key?.length ?? 0) + headerBytes <= small.maxMessageBytes);
  const letter = await codec.decode(out.value!, 'DeadLetter');
  assert.deepEqual([...letter.cut].sort(), ['headers', 'reason', 'value']);
  assert.ok(letter.value!.length > 100 * 1024, 'as much of the value as fits is kept');
  assert.deepEqual(letter.value, record.value!.subarray(0, letter.value!.length));
});

test('the cut fields are backward compatible: readers of the new schemas read events written before them', () => {
  for (const eventType of ['ExecutionTrace', 'DeadLetter'] as const) {
    const { schema, type } = eventSchema(eventType);
    const fields = (schema as { fields: { name: string }[] }).fields.filter((field) => field.name !== 'cut');
    const previous = parseSchema({ ...(schema as object), fields } as AvroSchema);
    assert.equal(checkBackward(type, previous).compatible, true, eventType);
  }
});
