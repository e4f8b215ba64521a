import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rowSummaryOf, toDatasetRow } from '../../src/dataset/row.js';
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
