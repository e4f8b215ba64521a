/**
 * Executor benchmark:
 * - throughput traced (the pool) vs untraced as a user would run it (a fresh `python3 prog.py` per
 *   program; target: traced ÷ fresh programs/s >= 0.9), and output fidelity between the two and
 *   against the expected output; where the traced pool's time goes against the fresh interpreters,
 *   program by program (executor-gap.ts);
 * - the tracer's own cost: traced ÷ untraced through the same pool (`trace: false`), and the
 *   tracer comparing the whole frame after every line instead of taking its fast path;
 * - the same three on two hot loops: integers only (the fast path's best case) and one that reads
 *   a list and updates a dict.
 * Every mode runs in each of `--rounds` rounds, in an order that rotates from round to round, and
 * the medians are compared.
 *
 *   npm run bench:executor -- PATH.jsonl [--limit N] [--concurrency N] [--rounds N]
 *     [--modes fresh,untraced,traced,whole-frame] [--no-hot-loops] [--top N]
 *
 * PATH.jsonl: one program a line, {id, problem, source, stdin, expected_stdout}.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { eachBounded } from './each-bounded.js';
import { median } from './median.js';
import { cpuUse, type CpuUse } from './cpu-use.js';
import { printGap } from './executor-gap.js';
import { MODES, POOL_MODES, poolRequest, runProgram, type Mode, type PoolMode, type Program, type ProgramRun } from './executor-runs.js';
import { createExecutorPool, type ExecutorPool } from '../src/executor/index.js';

const USAGE = 'usage: npm run bench:executor -- PATH.jsonl [--limit N] [--concurrency N] [--rounds N] '
  + `[--modes ${MODES.join(',')}] [--no-hot-loops] [--top N]`;

const HOT_LOOPS = [
  { name: 'integers, 10^6 iterations', source: 'for i in range(10**6):\n    x = i * 2\n    y = x + 1\n' },
  {
    name: 'list read + dict update, 2*10^5 iterations',
    source: 'xs = list(range(100))\ncounts = {}\nfor i in range(2 * 10**5):\n    x = xs[i % 100]\n    if x in counts:\n'
      + '        counts[x] += 1\n    else:\n        counts[x] = 1\n',
  },
];

async function main(argv: readonly string[]): Promise<void> {
  const { positionals, values: flags } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      limit: { type: 'string' }, concurrency: { type: 'string' }, rounds: { type: 'string' }, modes: { type: 'string' },
      'no-hot-loops': { type: 'boolean' }, top: { type: 'string' },
    },
  });
  const path = positionals[0];
  if (path === undefined) throw new Error(USAGE);
  const limit = flags['limit'] === undefined ? Infinity : Number(flags['limit']);
  const concurrency = flags['concurrency'] === undefined ? availableParallelism() : Number(flags['concurrency']);
  const rounds = flags['rounds'] === undefined ? 2 : Number(flags['rounds']);
  if (!(rounds >= 1)) throw new Error(`--rounds must be at least 1. ${USAGE}`);
  const modes = parseModes(flags['modes']);
  const programs = (await readFile(path, 'utf8')).split('\n').filter((l) => l.trim()).slice(0, limit)
    .map((l) => JSON.parse(l) as Program);

  const pool = await createExecutorPool({ concurrency, maxQueued: concurrency });
  try {
    console.log(`${programs.length} programs, concurrency ${concurrency}, python ${pool.interpreter.command} ${pool.interpreter.version}, network isolation: ${pool.networkIsolation}, isolation: ${pool.isolation}${pool.boxFailure === null ? '' : ` (no box: ${pool.boxFailure})`}`);
    console.log(`modes: ${modes.join(', ')}; ${rounds} rounds; load average at start ${loadAverage()}`);

    // Every mode runs in every round, in an order that rotates from round to round: this machine
    // drifts by up to 10% over minutes, and rotating makes a steady drift count against every mode alike.
    const seconds: Partial<Record<Mode, number[]>> = {};
    const cpu: Partial<Record<Mode, CpuUse[]>> = {};
    const runs: Partial<Record<Mode, ProgramRun[][]>> = {};
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < modes.length; k++) {
        const mode = modes[(round + k) % modes.length]!;
        const cpuBefore = await cpuUse();
        const started = performance.now();
        const results = await eachBounded(programs, concurrency, (p) => runProgram(pool, mode, p));
        (seconds[mode] ??= []).push((performance.now() - started) / 1000);
        const cpuAfter = await cpuUse();
        (cpu[mode] ??= []).push({
          ownSeconds: cpuAfter.ownSeconds - cpuBefore.ownSeconds, childrenSeconds: cpuAfter.childrenSeconds - cpuBefore.childrenSeconds,
        });
        // Outputs are compared from a mode's first round; later rounds keep their times only.
        const kept = runs[mode] === undefined ? results : results.map((run) => ({ ...run, output: '' }));
        (runs[mode] ??= []).push(kept);
      }
    }
    console.log(`load average at the end ${loadAverage()}`);
    printThroughput(programs.length, rounds, seconds, cpu);
    printRuns(programs, runs);
    printGap({ programs, runs, concurrency, top: flags['top'] === undefined ? 15 : Number(flags['top']) });

    if (flags['no-hot-loops'] !== true) for (const loop of HOT_LOOPS) await hotLoop(pool, loop.name, loop.source);
  } finally {
    await pool.close();
  }
}

function parseModes(flag: string | undefined): Mode[] {
  if (flag === undefined) return [...MODES];
  const modes = flag.split(',').map((m) => m.trim()).filter((m) => m !== '');
  const unknown = modes.filter((m) => !(MODES as readonly string[]).includes(m));
  if (unknown.length > 0 || modes.length === 0) throw new Error(`--modes: unknown ${unknown.join(', ') || '(none given)'}; choose from ${MODES.join(', ')}`);
  return [...new Set(modes as Mode[])];
}

/** The 1, 5 and 15 minute load averages: this machine is shared, so a figure says how loaded it was. */
function loadAverage(): string {
  return loadavg().map((l) => l.toFixed(2)).join(', ');
}

function printThroughput(count: number, rounds: number, seconds: Partial<Record<Mode, number[]>>, cpu: Partial<Record<Mode, CpuUse[]>>): void {
  const rate = (mode: Mode) => count / median(seconds[mode]!);
  const perRound = (mode: Mode) => seconds[mode]!.map((s) => (count / s).toFixed(1)).join(', ');
  const label: Record<Mode, string> = {
    fresh: 'untraced, fresh python3 prog.py per program',
    untraced: 'untraced (pool)',
    traced: 'traced (pool)',
    'whole-frame': 'traced comparing the whole frame (pool)',
  };
  for (const mode of MODES) {
    if (seconds[mode] === undefined) continue;
    console.log(`${label[mode]}: ${rate(mode).toFixed(1)} programs/s (${median(seconds[mode]!).toFixed(1)} s, median of ${rounds} rounds; rounds ${perRound(mode)})`);
  }
  // CPU per program, which the load does not share out between the modes as it does wall time
  // (though a busy VM makes every page fault dearer): this process (the pool's Node side: run dirs,
  // reading and checking traces) and its children (zygotes and runs, or the fresh interpreters).
  const perProgram = (mode: Mode, part: keyof CpuUse) => median(cpu[mode]!.map((use) => (1000 * use[part]) / count));
  const cpuLine = MODES.filter((mode) => cpu[mode] !== undefined).map((mode) =>
    `${mode} ${(perProgram(mode, 'ownSeconds') + perProgram(mode, 'childrenSeconds')).toFixed(1)} (bench process ${perProgram(mode, 'ownSeconds').toFixed(1)}, `
    + `interpreters ${perProgram(mode, 'childrenSeconds').toFixed(1)})`);
  console.log(`CPU ms per program, median of ${rounds} rounds: ${cpuLine.join('; ')}`);
  if (seconds.traced !== undefined && seconds.fresh !== undefined) {
    const cpuOf = (mode: Mode) => perProgram(mode, 'ownSeconds') + perProgram(mode, 'childrenSeconds');
    console.log(`ratio traced (pool) / untraced (fresh interpreter): ${(rate('traced') / rate('fresh')).toFixed(2)} (target >= 0.9); `
      + `fresh ÷ traced CPU per program: ${(cpuOf('fresh') / cpuOf('traced')).toFixed(2)}`);
  }
  if (seconds.traced !== undefined && seconds.untraced !== undefined) {
    console.log(`tracer's own cost, same pool: traced ÷ untraced time ${(median(seconds.traced) / median(seconds.untraced)).toFixed(2)}x`);
  }
  if (seconds.traced !== undefined && seconds['whole-frame'] !== undefined) {
    console.log(`whole frame ÷ fast path time: ${(median(seconds['whole-frame']) / median(seconds.traced)).toFixed(2)}x`);
  }
}

/** Outcomes, steps and fidelity, from the first round's runs. */
function printRuns(programs: readonly Program[], runs: Partial<Record<Mode, ProgramRun[][]>>): void {
  const share = (n: number) => `${((100 * n) / programs.length).toFixed(2)}%`;
  const traced = runs.traced?.[0];
  const fresh = runs.fresh?.[0];
  if (traced !== undefined) {
    const outcomes = new Map<string, number>();
    for (const run of traced) outcomes.set(run.outcome, (outcomes.get(run.outcome) ?? 0) + 1);
    console.log(`outcomes traced: ${[...outcomes].map(([o, n]) => `${o} ${n}`).join(', ')}`);
    const meanSteps = traced.reduce((sum, run) => sum + run.stepCount, 0) / traced.length;
    console.log(`mean steps per program: ${meanSteps.toFixed(0)}; traces truncated: ${traced.filter((run) => run.outcome.endsWith('+trace-cut')).length}`);
  }
  if (traced !== undefined && fresh !== undefined) {
    const mismatches = programs.map((_, i) => i).filter((i) => traced[i]!.output !== fresh[i]!.output);
    console.log(`fidelity traced == untraced: ${share(programs.length - mismatches.length)} (target >= 99.5%)`);
    // A run stopped at the step limit cannot print what the full run prints: a limit, not a fidelity bug.
    const isLimited = (i: number) => traced[i]!.outcome.startsWith('step-limit');
    const limited = mismatches.filter(isLimited).length;
    const judged = programs.length - limited;
    console.log(`fidelity among runs not stopped at the step limit: ${((100 * (judged - (mismatches.length - limited))) / judged).toFixed(2)}% (${limited} mismatches are step-limit runs)`);
    for (const i of [...mismatches].sort((a, b) => Number(isLimited(a)) - Number(isLimited(b))).slice(0, 10)) {
      console.log(`  mismatch ${programs[i]!.id}: traced ${traced[i]!.outcome} (${traced[i]!.reason}) vs untraced ${fresh[i]!.outcome} (${fresh[i]!.reason})`);
    }
  }
  const expected = (mode: Mode) => {
    const first = runs[mode]?.[0];
    return first === undefined ? [] : [`${mode} ${share(programs.filter((p, i) => sameIgnoringTrailingSpace(first[i]!.output, p.expected_stdout)).length)}`];
  };
  const matches = MODES.flatMap(expected);
  if (matches.length > 0) console.log(`matches expected_stdout: ${matches.join(', ')}`);
}

function sameIgnoringTrailingSpace(actual: string, expected: string): boolean {
  const normalize = (text: string) => text.split('\n').map((l) => l.trimEnd()).join('\n').trimEnd();
  return normalize(actual) === normalize(expected);
}

/** The three modes run in rotating order, and the medians are compared: one sample moved by 10% as this machine drifted. */
const HOT_LOOP_ROUNDS = 3;

async function hotLoop(pool: ExecutorPool, name: string, source: string): Promise<void> {
  const limits = { maxSteps: 0, traceBytes: 1024 * 1024 * 1024, wallTimeMs: 300_000, cpuTimeMs: 300_000, addressSpaceBytes: 2 * 1024 * 1024 * 1024 };
  const ms: Record<PoolMode, number[]> = { untraced: [], traced: [], 'whole-frame': [] };
  let steps = 0;
  for (let round = 0; round < HOT_LOOP_ROUNDS; round++) {
    for (let k = 0; k < POOL_MODES.length; k++) {
      const mode = POOL_MODES[(round + k) % POOL_MODES.length]!;
      const run = await pool.run({ source, limits, ...poolRequest(mode) });
      if (run.outcome !== 'ok') {
        console.log(`hot loop (${name}): ${mode} ${run.outcome} (${run.reason})`);
        return;
      }
      ms[mode].push(run.wallTimeMs);
      if (mode === 'traced') steps = run.stepCount;
    }
  }
  const [untraced, traced, whole] = POOL_MODES.map((mode) => median(ms[mode])) as [number, number, number];
  console.log(`hot loop (${name}, ${steps} steps, median of ${HOT_LOOP_ROUNDS} rotating rounds): untraced ${untraced} ms, traced ${traced} ms, `
    + `whole frame ${whole} ms; traced ÷ untraced ${(traced / Math.max(1, untraced)).toFixed(1)}x (target <= 40x), `
    + `fast path saves ${(100 * (1 - traced / Math.max(1, whole))).toFixed(0)}% of the whole-frame time `
    + `(untraced/traced/whole: ${ms.untraced.map((u, i) => `${u}/${ms.traced[i]}/${ms['whole-frame'][i]}`).join(', ')})`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
