import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfluentSchemaRegistry, createAvroCodec } from '../../src/avro/index.js';
import { ROW_SUMMARY_FIELDS, rowSummaryOf, toDatasetRow } from '../../src/dataset/row.js';
import { startFakeConfluentRegistry } from '../avro/fake-confluent-registry.js';
import { syntheticTrace } from './traces.js';

test('a row summary (what filters, splits and counts read) holds the same values as the whole row', () => {
  for (let i = 0; i < 30; i += 1) {
    const trace = { ...syntheticTrace(i), origin: { repo: `r${i % 3}`, path: `p${i}.py`, commit: 'c' } };
    const summary = rowSummaryOf(trace);
    const row = toDatasetRow(trace);
    for (const key of Object.keys(summary) as (keyof typeof summary)[]) {
      assert.deepEqual(summary[key], row[key], `${key} of trace ${i}`);
    }
  }
});

test('a row summary decoded from the summary\'s fields alone (as replay reads it) equals the one from the whole trace', async () => {
  const registry = await startFakeConfluentRegistry();
  try {
    const codec = createAvroCodec(new ConfluentSchemaRegistry(registry.url));
    for (let i = 0; i < 10; i += 1) {
      const bytes = await codec.encode('ExecutionTrace', { ...syntheticTrace(i), origin: { repo: `r${i}`, path: 'p.py' } });
      assert.deepEqual(rowSummaryOf(await codec.decodeFields(bytes, 'ExecutionTrace', ROW_SUMMARY_FIELDS)), rowSummaryOf(await codec.decode(bytes, 'ExecutionTrace')), `trace ${i}`);
    }
  } finally {
    await registry.close();
  }
});
