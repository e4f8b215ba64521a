import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Transformer, chooseBackend, encodeText, greedyContinue, greedyRecords } from '../../src/model/index.js';
import { counterText } from './fixtures.js';

before(async () => {
  await chooseBackend(['cpu']);
});

for (const positions of ['learned', 'alibi'] as const) test(`the plain-2d kernels (WASM) give the same loss and gradients as tf.js's own ops (${positions} positions)`, () => {
  const shape = { contextTokens: 16, layers: 2, width: 32, heads: 4, seed: 5, positions };
  const native = new Transformer(shape, { embedding: 'one-hot', matMul: 'native' });
  const plain = new Transformer(shape, { embedding: 'one-hot', matMul: 'plain-2d' });
  const tokens = tf.tensor2d(Array.from({ length: 48 }, (_, i) => (i * 7) % 257), [3, 16], 'int32');
  const targets = tf.tensor2d(Array.from({ length: 48 }, (_, i) => (i * 11) % 257), [3, 16], 'int32');
  try {
    const a = tf.variableGrads(() => native.tokenLosses(tokens, targets).mean() as tf.Scalar, native.variables);
    const b = tf.variableGrads(() => plain.tokenLosses(tokens, targets).mean() as tf.Scalar, plain.variables);
    assert.ok(Math.abs(a.value.dataSync()[0]! - b.value.dataSync()[0]!) < 1e-5);
    native.variables.forEach((v, i) => {
      const expected = a.grads[v.name]!;
      const actual = b.grads[plain.variables[i]!.name]!;
      const difference = tf.max(tf.abs(expected.sub(actual))).dataSync()[0]!;
      const scale = tf.max(tf.abs(expected)).dataSync()[0]!;
      assert.ok(difference <= 1e-4 * scale + 1e-7, `${native.variableNames[i]}: gradients differ by ${difference} (largest ${scale})`);
    });
  } finally {
    native.dispose();
    plain.dispose();
    tokens.dispose();
    targets.dispose();
  }
});

test('greedyRecords generates what greedy decoding generates, for records it predicts right and wrong', () => {
  const model = new Transformer({ contextTokens: 64, layers: 1, width: 32, heads: 2, seed: 9 }, { embedding: 'one-hot', matMul: 'native' });
  try {
    const text = counterText(3);
    const prompts = [10, 20, 30, 40].map((n) => encodeText(text.slice(0, n)));
    const decoded = greedyContinue(model, prompts, { maxNewTokens: 8, stopAtNewline: true, batchRows: 4 });
    // Truths: what greedy makes (so every token matches), the same with its third token changed,
    // and text unrelated to what the model predicts.
    const truths = [
      Uint8Array.from(decoded[0]!),
      Uint8Array.from(decoded[1]!, (t, i) => (i === 2 ? (t + 1) % 256 : t)),
      Uint8Array.from(encodeText('7\ttotal=3')),
      new Uint8Array(),
    ];
    const records = greedyRecords(model, prompts.map((p) => Uint8Array.from(p)), truths, { maxNewTokens: 8, batchRows: 3 });
    assert.deepEqual(records.map((r) => [...r]), decoded.map((r) => [...r]));
  } finally {
    model.dispose();
  }
});
