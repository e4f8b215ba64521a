import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { windowRoom } from '../../src/model/decoding.js';
import {
  AdamW, BYTE_TOKENIZER, SequencePacker, Transformer, chooseBackend, encodeText, greedyContinue, greedyRecords, tokenizeRun, trainOnBatch,
} from '../../src/model/index.js';
import { counterText } from './fixtures.js';

const NEWLINE = 0x0a;
const CONTEXT = 24;

/**
 * Greedy decoding without a cache: a forward pass over the whole window for every token. The
 * window starts at `start` and grows by the token taken; once it would hold more than the context,
 * it starts again with the `context − windowRoom` tokens before the newest one.
 */
function uncachedGreedy(model: Transformer, prompt: readonly number[], start: number, maxNewTokens: number, stopAtNewline: boolean): number[] {
  const context = model.config.contextTokens;
  const room = windowRoom(context, maxNewTokens);
  const text = [...prompt];
  const generated: number[] = [];
  let from = start;
  while (generated.length < maxNewTokens) {
    const window = text.slice(from);
    const argmax = tf.tidy(() => model.logits(tf.tensor2d(window, [1, window.length], 'int32')).argMax(1));
    const token = argmax.dataSync()[window.length - 1]!;
    argmax.dispose();
    if (token === BYTE_TOKENIZER.endOfText || (stopAtNewline && token === NEWLINE)) break;
    text.push(token);
    generated.push(token);
    if (text.length - from > context) from = text.length - 1 - (context - room);
  }
  return generated;
}

const POSITIONS = ['learned', 'alibi'] as const;
const shapeOf = (positions: (typeof POSITIONS)[number]) => ({ contextTokens: CONTEXT, layers: 2, width: 32, heads: 4, seed: 11, positions });

/** A tiny model trained 60 steps on counting loops, so that what it decodes varies (an untrained one repeats a token). */
function tinyTrainedModel(positions: (typeof POSITIONS)[number]): Transformer {
  const model = new Transformer(shapeOf(positions), { embedding: 'one-hot', matMul: 'native' });
  const optimizer = new AdamW(model.variables, { peakLearningRate: 1e-2, warmupSteps: 2, schedule: 'constant' });
  const packer = new SequencePacker(CONTEXT, 4096);
  for (let step = 0; step < 60; step += 1) {
    while (!packer.canTake(4)) packer.push(tokenizeRun(counterText(2 + (step % 4))));
    trainOnBatch(model, optimizer, packer.take(4));
  }
  optimizer.dispose();
  return model;
}

const trained = new Map<(typeof POSITIONS)[number], Transformer>();
before(async () => {
  await chooseBackend(['cpu']);
  for (const positions of POSITIONS) trained.set(positions, tinyTrainedModel(positions));
});
after(() => trained.forEach((model) => model.dispose()));

const text = Array.from(encodeText(counterText(6)));
// Shorter and longer than the context; 0 starts from end-of-text.
const promptLengths = [0, 5, 17, 30, 61, 90];

// The kernels of the JS CPU backend, of WASM, and of native TensorFlow, all run on the CPU backend; positions learned or ALiBi.
for (const positions of POSITIONS) for (const kernels of [{ embedding: 'one-hot', matMul: 'native' }, { embedding: 'one-hot', matMul: 'plain-2d' }, { embedding: 'gather', matMul: 'native' }] as const) {
  describe(`decoding with a key/value cache (${positions} positions, ${kernels.embedding} embedding, ${kernels.matMul} matmuls, CPU backend)`, () => {
    let model: Transformer;
    before(() => {
      // The trained weights, run with these kernels.
      model = new Transformer(shapeOf(positions), kernels);
      model.variables.forEach((variable, i) => variable.assign(trained.get(positions)!.variables[i]!));
    });
    after(() => model.dispose());

    it('makes exactly the tokens of uncached decoding, across window restarts and rows that stop at different steps', () => {
      const maxNewTokens = 40;
      const prompts = promptLengths.map((n) => text.slice(0, n));
      const cached = greedyContinue(model, prompts, { maxNewTokens, stopAtNewline: false, batchRows: 4 }).map((g) => [...g]);
      const uncached = prompts.map((p) => uncachedGreedy(model, p.length === 0 ? [BYTE_TOKENIZER.endOfText] : p, Math.max(0, p.length - CONTEXT), maxNewTokens, false));
      assert.deepEqual(cached, uncached);
      // Not a vacuous match: some rows run long enough to start their window again, and the tokens vary.
      assert.ok(uncached.some((g) => g.length === maxNewTokens), JSON.stringify(uncached));
      assert.ok(new Set(uncached.flat()).size > 3, JSON.stringify(uncached));
    });

    it('greedyRecords continues a record in its teacher-forced window with that pass\'s keys and values, as uncached decoding of that window does', () => {
      const maxNewTokens = 12;
      const prompts = [9, 26, 40, 58, 75].map((n) => Uint8Array.from(text.slice(0, n)));
      // What decoding makes from each prompt alone (truths it predicts right), the same with a token
      // changed (a record it parts from midway), and unrelated text (parts at once).
      const made = prompts.map((p) => uncachedGreedy(model, [...p], Math.max(0, p.length - CONTEXT), maxNewTokens, true));
      const truths = [
        Uint8Array.from(made[0]!),
        Uint8Array.from(made[1]!, (t, i) => (i === 2 ? (t + 1) % 256 : t)),
        Uint8Array.from(encodeText('7\ttotal=3')),
        Uint8Array.from(made[3]!),
        new Uint8Array(),
      ];
      const records = greedyRecords(model, prompts, truths, { maxNewTokens, batchRows: 3 }).map((r) => [...r]);
      const expected = prompts.map((p, i) => uncachedGreedy(model, [...p], Math.max(0, p.length + truths[i]!.length - CONTEXT), maxNewTokens, true));
      assert.deepEqual(records, expected);
      assert.ok(made.some((m) => m.length > 0), JSON.stringify(made));
    });
  });
}
