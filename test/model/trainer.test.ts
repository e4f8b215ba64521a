import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import avro from 'avsc';
import { Registry } from 'prom-client';
import { eventSchema } from '../../src/avro/index.js';
import { splitOf } from '../../src/dataset/splits.js';
import {
  OnlineTrainer, chooseBackend, loadCheckpoint, plotTrainingCurves, readMetricsHistory, appendMetricsHistory, registerModelGauges,
  type ChosenBackend, type TrainerOptions,
} from '../../src/model/index.js';
import { counterText } from './fixtures.js';

let backend: ChosenBackend;
const dirs: string[] = [];
before(async () => {
  backend = await chooseBackend(['cpu']);
});
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tinyTrainer(extra: Partial<TrainerOptions> = {}): Promise<OnlineTrainer> {
  const checkpointDir = await mkdtemp(join(tmpdir(), 'tracestream-model-'));
  dirs.push(checkpointDir);
  const { trainer } = await OnlineTrainer.open({
    checkpointDir,
    model: { contextTokens: 32, layers: 1, width: 16, heads: 2 },
    optimizer: { peakLearningRate: 3e-3, warmupSteps: 2 },
    batchRows: 2,
    evaluation: { recordsPerRun: 2, maxRecords: 4, maxRecordTokens: 24, lossTokensPerRun: 64, batchRows: 4 },
    ...extra,
  }, backend);
  return trainer;
}

/** Problem ids that fall in each split (by the one split rule). */
function problemsOf(split: 'train' | 'validation' | 'test', count: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i += 1) if (splitOf(`problem-${i}`) === split) out.push(`problem-${i}`);
  return out;
}

let offset = 0;
function feed(trainer: OnlineTrainer, problemId: string, n: number, partition = 0): ReturnType<OnlineTrainer['offer']> {
  offset += 1;
  return trainer.offer({ runId: `${problemId}/${offset}#0`, problemId, text: counterText(n), producedAtMs: Date.now(), topic: 'traces', partition, offset });
}

async function variablesOf(trainer: OnlineTrainer): Promise<number[][]> {
  return Promise.all([...trainer.model.variables, ...trainer.optimizer.firstMoments, ...trainer.optimizer.secondMoments].map(async (v) => Array.from(await v.data())));
}

test('a trainer reopened from its checkpoint has identical weights, optimizer state, offsets and pending tokens, and trains on identically', async () => {
  const trainer = await tinyTrainer();
  const [trainProblem] = problemsOf('train', 1);
  for (let i = 0; trainer.step < 3; i += 1) {
    if (trainer.wantsRuns) feed(trainer, trainProblem!, 2 + (i % 2), i % 3);
    else trainer.trainStep();
  }
  feed(trainer, trainProblem!, 1, 1);
  await trainer.checkpoint();
  const { trainer: resumed, resumedFrom } = await OnlineTrainer.open({ ...trainer.config }, backend);
  assert.ok(resumedFrom !== null);
  assert.equal(resumed.step, trainer.step);
  assert.equal(resumed.tokensTrained, trainer.tokensTrained);
  assert.deepEqual(resumed.startOffsets(), trainer.startOffsets());
  assert.deepEqual(await variablesOf(resumed), await variablesOf(trainer));
  // The same next runs give the same next steps: nothing consumed before the checkpoint was lost or repeated.
  for (const t of [trainer, resumed]) {
    while (t.wantsRuns) feed(t, trainProblem!, 3, 0);
    t.trainStep();
  }
  assert.deepEqual(await variablesOf(resumed), await variablesOf(trainer));
  trainer.dispose();
  resumed.dispose();
});

test('checkpoints are atomic: LATEST names a complete folder, older ones are pruned to two', async () => {
  const trainer = await tinyTrainer();
  const names = [await trainer.checkpoint(), await trainer.checkpoint(), await trainer.checkpoint()];
  const latest = (await readFile(join(trainer.config.checkpointDir, 'LATEST'), 'utf8')).trim();
  assert.equal(latest, names[2]);
  const loaded = await loadCheckpoint(trainer.config.checkpointDir);
  assert.equal(loaded?.meta.tokenizer.kind, 'bytes');
  const { readdir } = await import('node:fs/promises');
  assert.deepEqual((await readdir(trainer.config.checkpointDir)).filter((n) => n.startsWith('ckpt-')).sort(), names.slice(1).sort());
  trainer.dispose();
});

test('the evaluation set never holds a problem that is trained on: runs go by splitOf(problemId)', async () => {
  const trainer = await tinyTrainer({ maxEvaluationRuns: 100, evaluationRunsPerProblem: 100 });
  const problems = [...problemsOf('train', 6), ...problemsOf('validation', 4), ...problemsOf('test', 3)];
  const trained = new Set<string>();
  const evaluated = new Set<string>();
  for (let round = 0; round < 3; round += 1) {
    for (const problemId of problems) {
      while (!trainer.wantsRuns) trainer.trainStep();
      const disposition = feed(trainer, problemId, 1);
      if (disposition === 'train') trained.add(problemId);
      if (disposition === 'evaluate') evaluated.add(problemId);
      assert.equal(disposition, { train: 'train', validation: 'evaluate', test: 'skipped' }[splitOf(problemId)]);
    }
  }
  assert.equal(trained.size, 6);
  assert.equal(evaluated.size, 4);
  assert.deepEqual([...trained].filter((p) => evaluated.has(p)), []);
  const result = trainer.evaluate();
  assert.equal(result?.runs, 12);
  trainer.dispose();
});

test('an evaluation becomes a ModelMetrics event the schema accepts and decodes, a gauge per figure, a history line, and a plot', async () => {
  const trainer = await tinyTrainer();
  const [trainProblem] = problemsOf('train', 1);
  const [heldOut] = problemsOf('validation', 1);
  feed(trainer, heldOut!, 2);
  // Three steps: each row's first two sequences of 32 tokens are a run's source header, the third reaches its trace.
  while (trainer.step < 3) {
    if (trainer.wantsRuns) feed(trainer, trainProblem!, 2);
    else trainer.trainStep();
  }
  const result = trainer.evaluate();
  assert.ok(result !== null);
  assert.equal(result.model.records, 2);
  // Repeating the previous record never reproduces a counting loop's next record exactly.
  assert.ok(result.repeatPrevious.nextState !== null && result.repeatPrevious.nextState < 1);
  const event = trainer.metricsEvent(result, trainer.config.checkpointDir);
  assert.equal(event.step, 3);
  assert.ok(event.trainLoss !== null && event.trainTraceLoss !== null && event.tokensPerSecond !== null);
  const type = avro.Type.forSchema(eventSchema('ModelMetrics').schema as never);
  assert.ok(type.isValid(event), 'the event matches schemas/ModelMetrics.avsc');
  assert.deepEqual(JSON.parse(JSON.stringify(type.fromBuffer(type.toBuffer(event)))), JSON.parse(JSON.stringify(event)));

  const registry = new Registry();
  const gauges = registerModelGauges(registry);
  gauges.update(event);
  const text = await registry.metrics();
  assert.match(text, /tracestream_model_steps 3/);
  assert.match(text, /tracestream_model_next_state_accuracy\{predictor="repeat_previous"\}/);
  gauges.teardown();
  assert.equal(await registry.metrics(), '\n');

  await appendMetricsHistory(trainer.config.checkpointDir, event);
  const history = await readMetricsHistory(trainer.config.checkpointDir);
  assert.equal(history.length, 1);
  const svg = plotTrainingCurves(history);
  assert.match(svg, /^<svg /);
  for (const label of ['held-out trace loss', 'model next-state', 'repeat previous', 'most frequent', 'tokens trained']) assert.ok(svg.includes(label), label);
  trainer.dispose();
});
