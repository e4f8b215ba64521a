/**
 * Executor benchmark: throughput traced (the pool) vs untraced (a fresh `python3 prog.py` per
 * program), output fidelity between the two and against the expected output, and the tracer's
 * cost on a hot loop.
 *
 *   npm run bench:executor -- PATH.jsonl [--limit N] [--concurrency N]
 *
 * PATH.jsonl: one program a line, {id, problem, source, stdin, expected_stdout}.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { eachBounded } from './each-bounded.js';
import { median } from './median.js';
import { parseArgs } from 'node:util';
import { createExecutorPool, type ExecutorPool } from '../src/executor/index.js';
import { type Execution, type Outcome } from '../src/runs/index.js';

interface Program {
  id: string;
  source: string;
  stdin: string;
  expected_stdout: string;
}

interface Untraced {
  output: string;
  failed: boolean;
}

const HOT_LOOP = 'for i in range(10**6):\n    x = i * 2\n    y = x + 1\n';

async function main(argv: readonly string[]): Promise<void> {
  const { positionals, values: flags } = parseArgs({
    args: [...argv], allowPositionals: true, options: { limit: { type: 'string' }, concurrency: { type: 'string' } },
  });
  const path = positionals[0];
  if (path === undefined) throw new Error('usage: npm run bench:executor -- PATH.jsonl [--limit N] [--concurrency N]');
  const limit = flags['limit'] === undefined ? Infinity : Number(flags['limit']);
  const concurrency = flags['concurrency'] === undefined ? availableParallelism() : Number(flags['concurrency']);
  const programs = (await readFile(path, 'utf8')).split('\n').filter((l) => l.trim()).slice(0, limit)
    .map((l) => JSON.parse(l) as Program);

  const pool = await createExecutorPool({ concurrency, maxQueued: concurrency });
  try {
    console.log(`${programs.length} programs, concurrency ${concurrency}, python ${pool.interpreter.command} ${pool.interpreter.version}, network isolation: ${pool.networkIsolation}`);

    let started = performance.now();
    // Keep a summary, not the Execution: a few thousand traces with their steps do not fit in the heap.
    const traced = await eachBounded(programs, concurrency, async (p) => summarize(await pool.run({ runId: p.id, source: p.source, stdin: p.stdin })));
    const tracedSeconds = (performance.now() - started) / 1000;

    started = performance.now();
    const untraced = await eachBounded(programs, concurrency, (p) => runUntraced(pool, p));
    const untracedSeconds = (performance.now() - started) / 1000;

    const tracedRate = programs.length / tracedSeconds;
    const untracedRate = programs.length / untracedSeconds;
    console.log(`traced:   ${tracedRate.toFixed(1)} programs/s (${tracedSeconds.toFixed(1)} s)`);
    console.log(`untraced: ${untracedRate.toFixed(1)} programs/s (${untracedSeconds.toFixed(1)} s)`);
    console.log(`ratio traced/untraced: ${(tracedRate / untracedRate).toFixed(2)} (target >= 0.5)`);

    const outcomes = new Map<Outcome, number>();
    for (const e of traced) outcomes.set(e.outcome, (outcomes.get(e.outcome) ?? 0) + 1);
    console.log(`outcomes: ${[...outcomes].map(([o, n]) => `${o} ${n}`).join(', ')}`);
    const meanSteps = traced.reduce((sum, e) => sum + e.stepCount, 0) / traced.length;
    console.log(`mean steps per program: ${meanSteps.toFixed(0)}; traces truncated: ${traced.filter((e) => e.traceTruncated).length}`);

    const mismatches = programs.filter((_, i) => traced[i]!.output !== untraced[i]!.output);
    const share = (n: number) => `${((100 * n) / programs.length).toFixed(2)}%`;
    console.log(`fidelity traced == untraced: ${share(programs.length - mismatches.length)} (target >= 99.5%)`);
    // A run stopped at the step limit cannot print what the full run prints: a limit, not a fidelity bug.
    const limited = mismatches.filter((p) => traced[programs.indexOf(p)]!.outcome === 'step-limit').length;
    const judged = programs.length - limited;
    console.log(`fidelity among runs not stopped at the step limit: ${((100 * (judged - (mismatches.length - limited))) / judged).toFixed(2)}% (${limited} mismatches are step-limit runs)`);
    const byInterest = [...mismatches].sort((a, b) =>
      Number(traced[programs.indexOf(a)]!.outcome === 'step-limit') - Number(traced[programs.indexOf(b)]!.outcome === 'step-limit'));
    for (const p of byInterest.slice(0, 10)) {
      const i = programs.indexOf(p);
      console.log(`  mismatch ${p.id}: traced ${traced[i]!.outcome} (${traced[i]!.reason}) vs untraced${untraced[i]!.failed ? ' (failed)' : ''}`);
    }
    const tracedExpected = programs.filter((p, i) => sameIgnoringTrailingSpace(traced[i]!.output, p.expected_stdout)).length;
    const untracedExpected = programs.filter((p, i) => sameIgnoringTrailingSpace(untraced[i]!.output, p.expected_stdout)).length;
    console.log(`matches expected_stdout: traced ${share(tracedExpected)}, untraced ${share(untracedExpected)}`);

    await hotLoop(pool);
  } finally {
    await pool.close();
  }
}

interface TracedRun {
  outcome: Outcome;
  reason: string;
  stepCount: number;
  traceTruncated: boolean;
  output: string;
}

function summarize(execution: Execution): TracedRun {
  const { outcome, reason, stepCount, traceTruncated } = execution;
  return { outcome, reason, stepCount, traceTruncated, output: tracedOutput(execution) };
}

/** The program's answer: stdout, or the OUTPUT_PATH file when stdout is empty (HackerRank's template). */
function tracedOutput(e: Execution): string {
  return e.stdout === '' ? (e.outputFile ?? '') : e.stdout;
}

async function runUntraced(pool: ExecutorPool, program: Program): Promise<Untraced> {
  const dir = await mkdtemp(join(tmpdir(), 'tracestream-bench-'));
  try {
    await writeFile(join(dir, 'prog.py'), program.source);
    const result = await execa(pool.interpreter.command, ['prog.py'], {
      cwd: dir,
      input: program.stdin,
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', PYTHONHASHSEED: '0', PYTHONIOENCODING: 'utf-8', OUTPUT_PATH: join(dir, 'output.txt') },
      extendEnv: false,
      timeout: pool.limits.wallTimeMs,
      maxBuffer: pool.limits.outputBytes,
      encoding: 'utf8',
      stripFinalNewline: false,
      reject: false,
    });
    let output = result.stdout;
    if (output === '') output = await readFile(join(dir, 'output.txt'), 'utf8').catch(() => '');
    return { output, failed: result.failed };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function sameIgnoringTrailingSpace(actual: string, expected: string): boolean {
  const normalize = (text: string) => text.split('\n').map((l) => l.trimEnd()).join('\n').trimEnd();
  return normalize(actual) === normalize(expected);
}

/** Untraced and traced runs alternate, and the medians are compared: one sample moved by 10% as this machine drifted. */
const HOT_LOOP_PAIRS = 3;

async function hotLoop(pool: ExecutorPool): Promise<void> {
  const limits = { maxSteps: 0, traceBytes: 1024 * 1024 * 1024, wallTimeMs: 300_000, cpuTimeMs: 300_000, addressSpaceBytes: 2 * 1024 * 1024 * 1024 };
  const untracedMs: number[] = [];
  const tracedMs: number[] = [];
  let steps = 0;
  for (let pair = 0; pair < HOT_LOOP_PAIRS; pair++) {
    const untraced = await pool.run({ source: HOT_LOOP, trace: false, limits });
    const traced = await pool.run({ source: HOT_LOOP, limits });
    if (traced.outcome !== 'ok' || untraced.outcome !== 'ok') {
      console.log(`hot loop: traced ${traced.outcome} (${traced.reason}), untraced ${untraced.outcome} (${untraced.reason})`);
      return;
    }
    untracedMs.push(untraced.wallTimeMs);
    tracedMs.push(traced.wallTimeMs);
    steps = traced.stepCount;
  }
  const traced = median(tracedMs);
  const untraced = median(untracedMs);
  console.log(`hot loop (10^6 iterations, ${steps} steps, median of ${HOT_LOOP_PAIRS} alternating pairs): traced ${traced} ms, untraced ${untraced} ms, `
    + `ratio ${(traced / Math.max(1, untraced)).toFixed(1)}x (target <= 40x; pairs: ${tracedMs.map((t, i) => `${t}/${untracedMs[i]}`).join(', ')})`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
