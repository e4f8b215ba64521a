/**
 * Executor benchmark:
 * - throughput traced (the pool) vs untraced as a user would run it (a fresh `python3 prog.py` per
 *   program), and output fidelity between the two and against the expected output;
 * - the tracer's own cost: traced ÷ untraced through the same pool (`trace: false`), and the
 *   tracer comparing the whole frame after every line instead of taking its fast path, in
 *   alternating rounds;
 * - the same three on two hot loops: integers only (the fast path's best case) and one that reads
 *   a list and updates a dict.
 *
 *   npm run bench:executor -- PATH.jsonl [--limit N] [--concurrency N] [--rounds N]
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

const HOT_LOOPS = [
  { name: 'integers, 10^6 iterations', source: 'for i in range(10**6):\n    x = i * 2\n    y = x + 1\n' },
  {
    name: 'list read + dict update, 2*10^5 iterations',
    source: 'xs = list(range(100))\ncounts = {}\nfor i in range(2 * 10**5):\n    x = xs[i % 100]\n    if x in counts:\n'
      + '        counts[x] += 1\n    else:\n        counts[x] = 1\n',
  },
];

/** How a pool run is traced: not at all, with the fast path, or comparing the whole frame after every line. */
type Mode = 'untraced' | 'traced' | 'whole-frame';
const MODES: readonly Mode[] = ['untraced', 'traced', 'whole-frame'];

function modeRequest(mode: Mode): { trace: boolean; compareWholeFrame: boolean } {
  return { trace: mode !== 'untraced', compareWholeFrame: mode === 'whole-frame' };
}

async function main(argv: readonly string[]): Promise<void> {
  const { positionals, values: flags } = parseArgs({
    args: [...argv], allowPositionals: true, options: { limit: { type: 'string' }, concurrency: { type: 'string' }, rounds: { type: 'string' } },
  });
  const path = positionals[0];
  if (path === undefined) throw new Error('usage: npm run bench:executor -- PATH.jsonl [--limit N] [--concurrency N] [--rounds N]');
  const limit = flags['limit'] === undefined ? Infinity : Number(flags['limit']);
  const concurrency = flags['concurrency'] === undefined ? availableParallelism() : Number(flags['concurrency']);
  const programs = (await readFile(path, 'utf8')).split('\n').filter((l) => l.trim()).slice(0, limit)
    .map((l) => JSON.parse(l) as Program);

  const rounds = flags['rounds'] === undefined ? 2 : Number(flags['rounds']);
  const pool = await createExecutorPool({ concurrency, maxQueued: concurrency });
  try {
    console.log(`${programs.length} programs, concurrency ${concurrency}, python ${pool.interpreter.command} ${pool.interpreter.version}, network isolation: ${pool.networkIsolation}, isolation: ${pool.isolation}${pool.boxFailure === null ? '' : ` (no box: ${pool.boxFailure})`}`);

    // Each round runs the programs untraced, traced and traced comparing the whole frame, all
    // through the pool, in an order that rotates from round to round: this machine drifts by up
    // to 10% over minutes, and rotating makes a steady drift count against every mode alike.
    const seconds: Record<Mode, number[]> = { untraced: [], traced: [], 'whole-frame': [] };
    let traced: TracedRun[] | undefined;
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < MODES.length; k++) {
        const mode = MODES[(round + k) % MODES.length]!;
        const started = performance.now();
        // Keep a summary, not the Execution: a few thousand traces with their steps do not fit in the heap.
        const runs = await eachBounded(programs, concurrency, async (p) => summarize(await pool.run({ runId: p.id, source: p.source, stdin: p.stdin, ...modeRequest(mode) })));
        seconds[mode].push((performance.now() - started) / 1000);
        if (mode === 'traced') traced ??= runs;
      }
    }
    const tracedSeconds = median(seconds.traced);

    const started = performance.now();
    const untraced = await eachBounded(programs, concurrency, (p) => runUntraced(pool, p));
    const untracedSeconds = (performance.now() - started) / 1000;
    const tracedRate = programs.length / tracedSeconds;
    const untracedRate = programs.length / untracedSeconds;
    console.log(`traced (pool, median of ${rounds} rounds): ${tracedRate.toFixed(1)} programs/s (${tracedSeconds.toFixed(1)} s)`);
    console.log(`untraced, fresh python3 prog.py per program: ${untracedRate.toFixed(1)} programs/s (${untracedSeconds.toFixed(1)} s)`);
    console.log(`ratio traced (pool) / untraced (fresh interpreter): ${(tracedRate / untracedRate).toFixed(2)} (target >= 0.5)`);
    const rates = (mode: Mode) => seconds[mode].map((s) => (programs.length / s).toFixed(1)).join(', ');
    console.log(`tracer's own cost, same pool, ${rounds} rotating rounds (programs/s: untraced ${rates('untraced')}; traced ${rates('traced')}; whole frame ${rates('whole-frame')}):`);
    console.log(`  traced ÷ untraced time: ${(tracedSeconds / median(seconds.untraced)).toFixed(2)}x; `
      + `whole frame ÷ fast path time: ${(median(seconds['whole-frame']) / tracedSeconds).toFixed(2)}x`);

    if (traced === undefined) throw new Error('--rounds must be at least 1');
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

    for (const loop of HOT_LOOPS) await hotLoop(pool, loop.name, loop.source);
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

/** The three modes run in rotating order, and the medians are compared: one sample moved by 10% as this machine drifted. */
const HOT_LOOP_ROUNDS = 3;

async function hotLoop(pool: ExecutorPool, name: string, source: string): Promise<void> {
  const limits = { maxSteps: 0, traceBytes: 1024 * 1024 * 1024, wallTimeMs: 300_000, cpuTimeMs: 300_000, addressSpaceBytes: 2 * 1024 * 1024 * 1024 };
  const ms: Record<Mode, number[]> = { untraced: [], traced: [], 'whole-frame': [] };
  let steps = 0;
  for (let round = 0; round < HOT_LOOP_ROUNDS; round++) {
    for (let k = 0; k < MODES.length; k++) {
      const mode = MODES[(round + k) % MODES.length]!;
      const run = await pool.run({ source, limits, ...modeRequest(mode) });
      if (run.outcome !== 'ok') {
        console.log(`hot loop (${name}): ${mode} ${run.outcome} (${run.reason})`);
        return;
      }
      ms[mode].push(run.wallTimeMs);
      if (mode === 'traced') steps = run.stepCount;
    }
  }
  const [untraced, traced, whole] = MODES.map((mode) => median(ms[mode])) as [number, number, number];
  console.log(`hot loop (${name}, ${steps} steps, median of ${HOT_LOOP_ROUNDS} rotating rounds): untraced ${untraced} ms, traced ${traced} ms, `
    + `whole frame ${whole} ms; traced ÷ untraced ${(traced / Math.max(1, untraced)).toFixed(1)}x (target <= 40x), `
    + `fast path saves ${(100 * (1 - traced / Math.max(1, whole))).toFixed(0)}% of the whole-frame time `
    + `(untraced/traced/whole: ${ms.untraced.map((u, i) => `${u}/${ms.traced[i]}/${ms['whole-frame'][i]}`).join(', ')})`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
