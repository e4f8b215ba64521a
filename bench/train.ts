/**
 * Training benchmark of the language-model consumer.
 *
 *   npm run bench:train -- PATH.jsonl [--limit N] [--backends tensorflow-gpu,tensorflow,wasm,cpu]
 *       [--layers N --width N --heads N --context N --positions learned|alibi --batch N] [--steps N] [--tokens N | --minutes M]
 *       [--learning-rate X] [--warmup-steps N] [--decay-steps N] [--eval-runs N] [--eval-records N]
 *
 * For every backend that loads here: its peak matmul FLOP/s (measured first, square float32
 * matmuls), the model's tokens/s for forward + backward + AdamW update, its FLOPs per token, and the
 * utilisation 6 × parameters × tokens/s ÷ peak (and the same with attention's FLOPs counted). Then,
 * on the backend the trainer picks (the fastest that loads), it trains on the traces of the corpus'
 * training problems until the token (or time) budget and evaluates on its validation problems,
 * printing the model's metrics next to both baselines.
 *
 * PATH.jsonl: one program a line, {id, problem, source, stdin}.
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { eachBounded } from './each-bounded.js';
import { median } from './median.js';
import { parseArgs } from 'node:util';
import { createExecutorPool } from '../src/executor/index.js';
import {
  AdamW, BACKENDS, DEFAULT_EVALUATION_OPTIONS, OnlineTrainer, SequencePacker, Transformer, chooseBackend, describeBackend, parseBackendName, tokenizeRun, trainOnBatch,
  type EvaluationResult, type ModelConfigInput, type StateAccuracy, type StepResult,
} from '../src/model/index.js';
import { renderCompact } from '../src/render/index.js';
import { splitOf } from '../src/dataset/index.js';

interface Program {
  id: string;
  problem?: string;
  source: string;
  stdin?: string;
}

interface RunText {
  runId: string;
  problemId: string;
  text: string;
}

async function main(argv: readonly string[]): Promise<void> {
  const { positionals, values: flags } = parseArgs({
    args: [...argv], allowPositionals: true,
    options: Object.fromEntries(['limit', 'backends', 'layers', 'width', 'heads', 'context', 'positions', 'batch', 'steps', 'tokens', 'minutes', 'learning-rate', 'warmup-steps', 'decay-steps', 'eval-runs', 'eval-records']
      .map((name) => [name, { type: 'string' as const }])),
  });
  const path = positionals[0];
  if (path === undefined) throw new Error('usage: npm run bench:train -- PATH.jsonl [--limit N] [--backends a,b] [--tokens N | --minutes M] [shape flags]');
  const num = (name: string, fallback: number): number => (flags[name] === undefined ? fallback : Number(flags[name]));
  const limit = num('limit', 400);
  const shape: ModelConfigInput = {
    layers: num('layers', 4), width: num('width', 256), heads: num('heads', 4), contextTokens: num('context', 256),
    ...(flags['positions'] === undefined ? {} : { positions: flags['positions'] as 'learned' | 'alibi' }),
  };
  const batchRows = num('batch', 8);
  const timedSteps = num('steps', 5);
  const candidates = typeof flags['backends'] === 'string' ? flags['backends'].split(',').map(parseBackendName) : [...BACKENDS];

  const runs = await traceCorpus(path, limit);
  const corpusTokens = runs.reduce((n, r) => n + Buffer.byteLength(r.text) + 1, 0);
  console.log(`corpus: ${runs.length} runs traced from ${path} (first ${limit} programs), ${corpusTokens} tokens of compact text`);
  console.log(`model: ${JSON.stringify(shape)}, batch ${batchRows} x ${shape.contextTokens}`);

  console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (${availableParallelism()} CPUs)`);
  console.log('\nbackend          peak GFLOP/s  sustained  tokens/s  FLOPs/token(6N)  FLOPs/token(+attn)  utilisation(6N)  utilisation(+attn)');
  for (const name of candidates) {
    let backend;
    try {
      backend = await chooseBackend([name]);
    } catch (error) {
      console.log(`${name.padEnd(16)} not available: ${String((error as Error).message).slice(0, 160)}`);
      continue;
    }
    const peak = measurePeakFlops();
    const model = new Transformer(shape, backend.kernels);
    const speed = measureTrainingSpeed(model, runs, batchRows, timedSteps);
    const sixN = 6 * model.parameterCount;
    const withAttention = model.flopsPerToken();
    // Against the sustained matmul rate measured between the steps (the same machine load), and never above what the peak first measured allows.
    const ceiling = Math.max(peak, speed.sustainedFlops);
    console.log(`${name.padEnd(16)} ${(peak / 1e9).toFixed(2).padStart(12)}  ${(speed.sustainedFlops / 1e9).toFixed(2).padStart(9)}  ${speed.tokensPerSecond.toFixed(0).padStart(8)}  ${sixN.toExponential(2).padStart(15)}  ${withAttention.toExponential(2).padStart(18)}  ${(sixN * speed.tokensPerSecond / speed.sustainedFlops).toFixed(3).padStart(15)}  ${(withAttention * speed.tokensPerSecond / speed.sustainedFlops).toFixed(3).padStart(18)}`);
    console.log(`${''.padEnd(16)} steps: ${speed.steps.map((s) => `${s.tokensPerSecond.toFixed(0)} tokens/s at ${(s.matmulFlops / 1e9).toFixed(2)} GFLOP/s`).join('; ')}; utilisation against the higher of the two rates ${(sixN * speed.tokensPerSecond / ceiling).toFixed(3)}`);
    model.dispose();
  }
  console.log(`load average after the speed runs: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  const picked = await chooseBackend(candidates);
  console.log(`\npicked backend: ${describeBackend(picked)}`);
  const budgetTokens = num('tokens', flags['minutes'] === undefined ? 200_000 : Infinity);
  const budgetMs = flags['minutes'] === undefined ? Infinity : Number(flags['minutes']) * 60_000;
  const dir = await mkdtemp(join(tmpdir(), 'tracestream-bench-train-'));
  try {
    // The trainer's own defaults (what `tracestream train` gets), but for the flags given.
    const { trainer } = await OnlineTrainer.open({
      checkpointDir: dir, model: shape, batchRows,
      maxEvaluationRuns: num('eval-runs', 48),
      evaluation: { ...DEFAULT_EVALUATION_OPTIONS, maxRecords: num('eval-records', DEFAULT_EVALUATION_OPTIONS.maxRecords) },
      optimizer: {
        ...(flags['learning-rate'] === undefined ? {} : { peakLearningRate: Number(flags['learning-rate']) }),
        ...(flags['warmup-steps'] === undefined ? {} : { warmupSteps: Number(flags['warmup-steps']) }),
        ...(flags['decay-steps'] === undefined ? {} : { decaySteps: Number(flags['decay-steps']) }),
      },
    }, picked);
    // The held-out runs first: the evaluation set is the corpus' validation problems, however few
    // of the training runs the budget reaches (the trainer keeps them apart by splitOf).
    const heldOut = runs.filter((r) => splitOf(r.problemId) !== 'train');
    // In a fixed shuffled order: the corpus lists each repository's solutions together, so in its
    // own order a step's batch would hold a few programs of one author, and the model would chase them.
    const training = shuffled(runs.filter((r) => splitOf(r.problemId) === 'train'), 1);
    heldOut.forEach((run, i) => trainer.offer({ ...run, producedAtMs: Date.now(), topic: 'bench-held-out', partition: 0, offset: i }));
    console.log(`${heldOut.length} held-out runs offered (the trainer keeps up to ${trainer.config.maxEvaluationRuns}, ${trainer.config.evaluationRunsPerProblem} per problem), ${training.length} training runs`);
    const started = Date.now();
    const curve = new TrainingCurve(started, budgetMs === Infinity ? 60_000 : Math.max(10_000, budgetMs / 10));
    let next = 0;
    let pass = 0;
    while (trainer.tokensTrained < budgetTokens && Date.now() - started < budgetMs) {
      if (trainer.wantsRuns) {
        const run = training[next]!;
        // Later passes over the corpus get new run ids, so the trainer's redelivery filter keeps them.
        trainer.offer({ ...run, runId: `${run.runId}@${pass}`, producedAtMs: Date.now(), topic: 'bench', partition: 0, offset: pass * training.length + next });
        next += 1;
        if (next === training.length) {
          next = 0;
          pass += 1;
        }
      } else {
        const step = trainer.trainStep();
        if (step !== null) curve.add(step, trainer.step, trainer.tokensTrained);
      }
    }
    curve.print();
    const seconds = (Date.now() - started) / 1000;
    console.log(`trained ${trainer.tokensTrained} tokens in ${seconds.toFixed(0)} s (${trainer.step} steps, ${seconds > 0 ? (trainer.tokensTrained / seconds).toFixed(0) : '-'} tokens/s, ${pass} full passes over the training runs); load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const evaluationStarted = Date.now();
    const result = trainer.evaluate();
    console.log(`evaluated in ${((Date.now() - evaluationStarted) / 1000).toFixed(0)} s`);
    if (result === null) console.log('no validation problems among the traced runs: raise --limit');
    else printEvaluation(result);
    trainer.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The training loss as it goes, printed every `everyMs`: the mean over the steps since the last
 * line, on trace and on source tokens, with the learning rate; set beside the held-out loss at
 * the end it tells too little learning (both high) from too few programs (a large gap).
 */
class TrainingCurve {
  private nextAt: number;
  private window = { steps: 0, traceNll: 0, traceTokens: 0, sourceNll: 0, sourceTokens: 0 };
  private lines: string[] = [];

  constructor(private readonly started: number, private readonly everyMs: number) {
    this.nextAt = started + everyMs;
  }

  add(step: StepResult, steps: number, tokens: number): void {
    const w = this.window;
    w.steps += 1;
    w.traceNll += step.traceNll;
    w.traceTokens += step.traceTokens;
    w.sourceNll += step.sourceNll;
    w.sourceTokens += step.sourceTokens;
    const now = Date.now();
    if (now < this.nextAt) return;
    const mean = (nll: number, n: number) => (n === 0 ? '-' : (nll / n).toFixed(3));
    this.lines.push(`  ${((now - this.started) / 1000).toFixed(0).padStart(5)} s  step ${String(steps).padStart(6)}  ${String(tokens).padStart(9)} tokens  `
      + `training loss: trace ${mean(w.traceNll, w.traceTokens)}, source ${mean(w.sourceNll, w.sourceTokens)} (mean of ${w.steps} steps)  learning rate ${step.learningRate.toExponential(2)}`);
    this.window = { steps: 0, traceNll: 0, traceTokens: 0, sourceNll: 0, sourceTokens: 0 };
    this.nextAt = now + this.everyMs;
  }

  print(): void {
    if (this.lines.length > 0) console.log(`training curve (nats/token):\n${this.lines.join('\n')}`);
  }
}

/** A copy of `items` in a random order fixed by `seed` (Fisher-Yates with a small linear congruential generator). */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Runs the corpus under the tracer (no Kafka) and renders each run as training text. */
async function traceCorpus(path: string, limit: number): Promise<RunText[]> {
  const programs = (await readFile(path, 'utf8')).split('\n').filter((l) => l.trim()).slice(0, limit).map((l) => JSON.parse(l) as Program);
  const concurrency = availableParallelism();
  const pool = await createExecutorPool({ concurrency, maxQueued: concurrency });
  try {
    return await eachBounded(programs, concurrency, async (p) => {
      const execution = await pool.run({ runId: p.id, source: p.source, stdin: p.stdin ?? '' });
      return { runId: `${p.id}#0`, problemId: p.problem ?? p.id, text: renderCompact(execution, { source: p.source }) };
    });
  } finally {
    await pool.close();
  }
}

/** Best FLOP/s of square float32 matmuls (sizes 256..1024), the ceiling a training step is held to. */
function measurePeakFlops(): number {
  let best = 0;
  for (const n of [256, 512, 1024]) best = Math.max(best, matmulFlops(n, 3).best);
  return best;
}

/** FLOP/s of `repeats` n×n float32 matmuls after a warm-up one: the best single one, and all of them together. */
function matmulFlops(n: number, repeats: number): { best: number; sustained: number } {
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  tf.matMul(a, b).dataSync();
  const times: number[] = [];
  for (let i = 0; i < repeats; i += 1) {
    const start = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    times.push(performance.now() - start);
    c.dispose();
  }
  a.dispose();
  b.dispose();
  const flops = 2 * n ** 3;
  return { best: flops / (Math.min(...times) / 1000), sustained: (flops * repeats) / (times.reduce((x, y) => x + y, 0) / 1000) };
}

interface SpeedStep {
  tokensPerSecond: number;
  /** Sustained 1024² matmul FLOP/s measured right before this step. */
  matmulFlops: number;
}

/**
 * Tokens per second of forward + backward + update, median of `steps` steps after one warm-up step.
 * Before each step, a few 1024² matmuls measure the matmul rate under the machine's load of that
 * moment: on a shared machine the rate moves 2× within a minute, and a ratio of a step to a peak
 * measured at another moment would move with it.
 */
function measureTrainingSpeed(model: Transformer, runs: readonly RunText[], batchRows: number, steps: number): { tokensPerSecond: number; sustainedFlops: number; steps: SpeedStep[] } {
  const time = model.config.contextTokens;
  const optimizer = new AdamW(model.variables);
  const packer = new SequencePacker(time, batchRows * time + 1 + 65_536);
  let next = 0;
  const batch = () => {
    while (!packer.canTake(batchRows)) packer.push(tokenizeRun(runs[next++ % runs.length]!.text.slice(0, 65_000)));
    return packer.take(batchRows);
  };
  trainOnBatch(model, optimizer, batch());
  const measured: SpeedStep[] = [];
  for (let i = 0; i < steps; i += 1) {
    const b = batch();
    const matmul = matmulFlops(1024, 4).sustained;
    const start = performance.now();
    trainOnBatch(model, optimizer, b);
    measured.push({ tokensPerSecond: (batchRows * time) / ((performance.now() - start) / 1000), matmulFlops: matmul });
  }
  optimizer.dispose();
  return {
    tokensPerSecond: median(measured.map((s) => s.tokensPerSecond)),
    sustainedFlops: median(measured.map((s) => s.matmulFlops)),
    steps: measured,
  };
}

function printEvaluation(result: EvaluationResult): void {
  const pct = (v: number | null): string => (v === null ? '    -' : `${(100 * v).toFixed(1)}%`.padStart(6));
  console.log(`held-out (validation problems): ${result.runs} runs, trace loss ${result.traceLoss?.toFixed(3) ?? '-'} nats/token (perplexity ${result.tracePerplexity?.toFixed(2) ?? '-'}), source loss ${result.sourceLoss?.toFixed(3) ?? '-'}`);
  console.log('predictor         next-state  per-variable  output   (records / variable changes / printing records)');
  const row = (name: string, a: StateAccuracy): void => {
    console.log(`${name.padEnd(17)} ${pct(a.nextState).padStart(10)}  ${pct(a.variables).padStart(12)}  ${pct(a.output).padStart(6)}   (${a.records} / ${a.variableChanges} / ${a.outputRecords})`);
  };
  row('model (greedy)', result.model);
  row('repeat previous', result.repeatPrevious);
  row('most frequent', result.mostFrequent);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});


