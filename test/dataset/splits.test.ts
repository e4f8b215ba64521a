import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { DEFAULT_SPLIT_RATIOS, splitOf, splitPointOf, validateSplitRatios } from '../../src/dataset/splits.js';

test('a problem id maps to the point given by the first 8 bytes of its SHA-256 (the documented rule)', () => {
  const digest = createHash('sha256').update('two-sum').digest();
  assert.equal(splitPointOf('two-sum'), Number(digest.readBigUInt64BE(0)) / 2 ** 64);
  assert.equal(splitOf('two-sum'), splitOf('two-sum'));
});

test('split ratios decide the share of problems in each split', () => {
  const counts = { train: 0, validation: 0, test: 0 };
  for (let i = 0; i < 20_000; i += 1) counts[splitOf(`problem-${i}`)] += 1;
  assert.ok(Math.abs(counts.train / 20_000 - DEFAULT_SPLIT_RATIOS.train) < 0.02, JSON.stringify(counts));
  assert.ok(Math.abs(counts.validation / 20_000 - DEFAULT_SPLIT_RATIOS.validation) < 0.02, JSON.stringify(counts));
  const allTrain = Array.from({ length: 100 }, (_, i) => splitOf(`p${i}`, { train: 1, validation: 0, test: 0 }));
  assert.deepEqual(new Set(allTrain), new Set(['train']));
});

test('split ratios that do not sum to 1, or fall outside [0, 1], are refused naming the field', () => {
  assert.throws(() => validateSplitRatios({ train: 0.8, validation: 0.1, test: 0.2 }), /sum to 1/);
  assert.throws(() => validateSplitRatios({ train: 1.2, validation: -0.1, test: -0.1 }), /train must be between 0 and 1/);
  assert.deepEqual(validateSplitRatios({ train: 0.5, validation: 0.25, test: 0.25 }), { train: 0.5, validation: 0.25, test: 0.25 });
});
