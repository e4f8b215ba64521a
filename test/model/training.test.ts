import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  AdamW, BatchPacker, SequencePacker, Transformer, chooseBackend, learningRateAt, optimizerConfigSchema, tokenizeRun, trainOnBatch, BYTE_TOKENIZER,
} from '../../src/model/index.js';
import { counterText } from './fixtures.js';

before(async () => {
  await chooseBackend(['cpu']);
});

test('the tokenizer marks the source header as source and every trace byte (and end-of-text) as trace', () => {
  const text = counterText(2);
  const header = 'src 4\n1 total = 0\n2 for i in range(2):\n3     total += i\n4 print(total)\n';
  assert.ok(text.startsWith(header));
  const run = tokenizeRun(text);
  assert.equal(run.tokens.length, Buffer.byteLength(text) + 1);
  assert.equal(run.tokens[run.tokens.length - 1], BYTE_TOKENIZER.endOfText);
  assert.deepEqual([...run.isTrace.subarray(0, header.length)], new Array(header.length).fill(0));
  assert.ok(run.isTrace.subarray(header.length).every((v) => v === 1));
});

test('packing makes every consumed token a target exactly once, across runs and batches', () => {
  const packer = new SequencePacker(8, 1000);
  const runs = [counterText(1), counterText(2)].map(tokenizeRun);
  const stream = runs.flatMap((r) => Array.from(r.tokens));
  for (const run of runs) packer.push(run);
  const targets: number[] = [];
  let firstInput: number | undefined;
  while (packer.canTake(2)) {
    const batch = packer.take(2);
    firstInput ??= batch.inputs[0];
    targets.push(...batch.targets);
  }
  assert.equal(firstInput, stream[0]);
  assert.deepEqual(targets, stream.slice(1, 1 + targets.length));
  assert.equal(packer.pendingTokens, stream.length - targets.length);
});

test('batch packing puts runs in separate rows (lanes), and each lane makes its runs\' tokens targets exactly once', () => {
  const time = 8;
  const packer = new BatchPacker(3, time, 400);
  const runs = [1, 2, 3, 4, 5, 6].map((n) => tokenizeRun(counterText(n)));
  // Each run goes whole into the lane holding fewest tokens, as the trainer offers them (whenever a batch cannot be made).
  const lanes: number[][] = [[], [], []];
  let next = 0;
  const targetsByRow: number[][] = [[], [], []];
  while (next < runs.length || packer.canTake()) {
    if (!packer.canTake()) {
      const emptiest = [0, 1, 2].reduce((best, lane) => (lanePending(lane) < lanePending(best) ? lane : best));
      lanes[emptiest]!.push(...runs[next]!.tokens);
      packer.push(runs[next]!);
      next += 1;
      continue;
    }
    const batch = packer.take();
    assert.equal(batch.rows, 3);
    for (let row = 0; row < 3; row += 1) targetsByRow[row]!.push(...batch.targets.subarray(row * time, (row + 1) * time));
  }
  function lanePending(lane: number): number {
    return lanes[lane]!.length - targetsByRow[lane]!.length;
  }
  // The first three runs start the three rows: one batch holds three different programs.
  assert.deepEqual(lanes.map((lane) => lane.slice(0, 4)), runs.slice(0, 3).map((run) => Array.from(run.tokens.subarray(0, 4))));
  targetsByRow.forEach((targets, row) => assert.deepEqual(targets, lanes[row]!.slice(1, 1 + targets.length)));
  assert.equal(packer.pendingTokens, lanes.reduce((n, lane, row) => n + lane.length - targetsByRow[row]!.length, 0));
  // A checkpoint's lanes go back into a packer of as many rows, and no other.
  const copy = new BatchPacker(3, time, 400);
  copy.restore(packer.state());
  assert.deepEqual(copy.state(), packer.state());
  assert.throws(() => new BatchPacker(4, time, 400).restore(packer.state()), (error: Error & { code?: string }) => error.code === 'CHECKPOINT_INVALID' && /3 lanes/.test(error.message));
});

test('the schedule warms up linearly, peaks, then decays by cosine to the minimum', () => {
  const config = optimizerConfigSchema.parse({ peakLearningRate: 1e-3, warmupSteps: 10, decaySteps: 100, minLearningRateRatio: 0.1 });
  assert.ok(Math.abs(learningRateAt(config, 0) - 1e-4) < 1e-12);
  assert.ok(Math.abs(learningRateAt(config, 9) - 1e-3) < 1e-12);
  assert.ok(Math.abs(learningRateAt(config, 60) - (1e-4 + 0.9e-3 * 0.5)) < 1e-9);
  assert.ok(Math.abs(learningRateAt(config, 500) - 1e-4) < 1e-12);
  assert.equal(learningRateAt({ ...config, schedule: 'constant' }, 500), 1e-3);
});

test('a tiny model on the CPU backend: trace loss on a repetitive trace stream falls by half within 40 steps', () => {
  const model = new Transformer({ contextTokens: 32, layers: 1, width: 32, heads: 2, seed: 3 }, { embedding: 'one-hot', matMul: 'native' });
  const optimizer = new AdamW(model.variables, { peakLearningRate: 5e-3, warmupSteps: 4, schedule: 'constant', clipNorm: 1 });
  const packer = new SequencePacker(32, 4096);
  const traceLosses: number[] = [];
  try {
    for (let step = 0; step < 40; step += 1) {
      while (!packer.canTake(4)) packer.push(tokenizeRun(counterText(2 + (step % 3))));
      const result = trainOnBatch(model, optimizer, packer.take(4));
      assert.equal(result.skipped, false);
      traceLosses.push(result.traceNll / result.traceTokens);
    }
  } finally {
    model.dispose();
    optimizer.dispose();
  }
  const first = traceLosses.slice(0, 3).reduce((a, b) => a + b) / 3;
  const last = traceLosses.slice(-5).reduce((a, b) => a + b) / 5;
  assert.ok(first > Math.log(257) * 0.9, `an untrained model is near uniform over 257 tokens (${first})`);
  assert.ok(last < first / 2, `trace loss fell from ${first.toFixed(3)} to ${last.toFixed(3)}`);
});
