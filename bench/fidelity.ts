/**
 * Fidelity differential: every program traced twice through the same pool, once with the tracer's
 * fast path (a line compares only the names it can change, where it can prove nothing else
 * changed) and once comparing the whole frame after every line (`compareWholeFrame`). The traces
 * must be identical; any difference is a change the fast path credited to the wrong line.
 *
 *   npm run bench:fidelity -- PATH.jsonl [--limit N] [--concurrency N]
 *
 * A run stopped by the wall-clock or CPU limit (or killed) ends at a point that depends on the
 * machine's speed, so only the steps both runs recorded (matched by step index) are compared for those. A program whose
 * trace differs between two fast-path runs (it prints the time, draws random numbers) is counted
 * apart. It also prints the tracer's time both ways: what the fast path saves on these programs.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { eachBounded } from './each-bounded.js';
import { parseArgs } from 'node:util';
import { createExecutorPool, type ExecutorPool } from '../src/executor/index.js';
import type { Execution, Step } from '../src/runs/index.js';

interface Program {
  id: string;
  source: string;
  stdin: string;
}

/** What is kept of one run: a few thousand traces with their steps do not fit in the heap. */
interface Summary {
  outcome: Execution['outcome'];
  stdout: string;
  /** Digest of each step, in order. */
  stepDigests: string[];
  /** Each step's index, in the same order (a run cut by the clock can lack the steps still open). */
  stepIndices: number[];
  cpuTimeMs: number;
  /** The step itself, kept only where a difference is reported. */
  steps: Step[] | null;
}

const CUT_BY_THE_CLOCK = new Set<Execution['outcome']>(['timeout', 'killed']);
const SHOWN_DIFFERENCES = 10;

async function main(argv: readonly string[]): Promise<void> {
  const { positionals, values: flags } = parseArgs({
    args: [...argv], allowPositionals: true, options: { limit: { type: 'string' }, concurrency: { type: 'string' } },
  });
  const path = positionals[0];
  if (path === undefined) throw new Error('usage: npm run bench:fidelity -- PATH.jsonl [--limit N] [--concurrency N]');
  const limit = flags['limit'] === undefined ? Infinity : Number(flags['limit']);
  const concurrency = flags['concurrency'] === undefined ? availableParallelism() : Number(flags['concurrency']);
  const programs = (await readFile(path, 'utf8')).split('\n').filter((l) => l.trim()).slice(0, limit)
    .map((l) => JSON.parse(l) as Program);

  const pool = await createExecutorPool({ concurrency, maxQueued: concurrency });
  try {
    console.log(`${programs.length} programs, concurrency ${concurrency}, python ${pool.interpreter.command} ${pool.interpreter.version}`);
    let identical = 0;
    let comparedPrefix = 0;
    let fastCpuMs = 0;
    let wholeCpuMs = 0;
    const differences: string[] = [];
    const nondeterministic: string[] = [];
    const outcomes = new Map<string, number>();
    let done = 0;
    await eachBounded(programs, concurrency, async (program) => {
      // Alternate which goes first, so that a drifting machine counts against both alike.
      const order = done % 2 === 0 ? [false, true] : [true, false];
      const [first, second] = [await traceOnce(pool, program, order[0]!), await traceOnce(pool, program, order[1]!)];
      const [fast, whole] = order[0] ? [second, first] : [first, second];
      done += 1;
      if (done % 100 === 0) process.stderr.write(`${done}/${programs.length} programs, ${differences.length} differences so far\n`);
      outcomes.set(fast.outcome, (outcomes.get(fast.outcome) ?? 0) + 1);
      fastCpuMs += fast.cpuTimeMs;
      wholeCpuMs += whole.cpuTimeMs;
      const clocked = CUT_BY_THE_CLOCK.has(fast.outcome) || CUT_BY_THE_CLOCK.has(whole.outcome);
      const difference = clocked ? sharedStepsDifference(fast, whole) : fullDifference(fast, whole);
      if (difference === null) {
        if (clocked) comparedPrefix += 1;
        else identical += 1;
        return;
      }
      // A program that differs from itself between two fast-path runs (time, randomness, a path
      // in a repr) is not a fast-path difference: told apart by a third run.
      const again = await traceOnce(pool, program, false);
      const itself = clocked ? sharedStepsDifference(fast, again) : fullDifference(fast, again);
      if (itself !== null) {
        nondeterministic.push(`${program.id}: ${itself}`);
        return;
      }
      differences.push(`${program.id}: ${difference}`);
      if (differences.length <= SHOWN_DIFFERENCES) differences[differences.length - 1] += `\n${await showFirstDifference(pool, program)}`;
    });
    console.log(`outcomes (fast path): ${[...outcomes].map(([o, n]) => `${o} ${n}`).join(', ')}`);
    console.log(`identical traces: ${identical} of ${programs.length - comparedPrefix - nondeterministic.length} deterministic runs that ended by themselves; `
      + `${comparedPrefix} runs cut by the clock agree on the steps both recorded`);
    console.log(`programs whose trace differs between two fast-path runs too (not compared): ${nondeterministic.length}`);
    for (const line of nondeterministic.slice(0, SHOWN_DIFFERENCES)) console.log(`  ${line}`);
    console.log(`differences: ${differences.length}${differences.length === 0 ? ' (target 0)' : ''}`);
    for (const line of differences.slice(0, SHOWN_DIFFERENCES)) console.log(`  ${line}`);
    console.log(`child CPU, all programs: fast path ${(fastCpuMs / 1000).toFixed(1)} s, whole frame ${(wholeCpuMs / 1000).toFixed(1)} s `
      + `(fast path saves ${(100 * (1 - fastCpuMs / Math.max(1, wholeCpuMs))).toFixed(1)}%)`);
  } finally {
    await pool.close();
  }
}

async function traceOnce(pool: ExecutorPool, program: Program, compareWholeFrame: boolean, keepSteps = false): Promise<Summary> {
  const execution = await pool.run({ runId: program.id, source: program.source, stdin: program.stdin, compareWholeFrame });
  return {
    outcome: execution.outcome,
    stdout: execution.stdout,
    stepDigests: execution.steps.map((step) => createHash('sha1').update(JSON.stringify(step)).digest('base64')),
    stepIndices: execution.steps.map((step) => step.index),
    cpuTimeMs: execution.cpuTimeMs,
    steps: keepSteps ? execution.steps : null,
  };
}

function fullDifference(fast: Summary, whole: Summary): string | null {
  if (fast.outcome !== whole.outcome) return `outcome ${fast.outcome} (fast path) vs ${whole.outcome} (whole frame)`;
  if (fast.stdout !== whole.stdout) return 'stdout differs';
  if (fast.stepDigests.length !== whole.stepDigests.length) return `${fast.stepDigests.length} steps (fast path) vs ${whole.stepDigests.length} (whole frame)`;
  return prefixDifference(fast, whole);
}

/**
 * For runs cut by the clock: the steps both runs recorded, matched by index. The faster run gets
 * further and may reach the trace-bytes cap, after which the steps still open when it was reached
 * (an outer line waiting on a call) are never written, so the two lists need not line up by position.
 */
function sharedStepsDifference(fast: Summary, whole: Summary): string | null {
  const wholeByIndex = new Map(whole.stepIndices.map((index, i) => [index, whole.stepDigests[i]!]));
  for (let i = 0; i < fast.stepIndices.length; i++) {
    const other = wholeByIndex.get(fast.stepIndices[i]!);
    if (other !== undefined && other !== fast.stepDigests[i]) return `step ${fast.stepIndices[i]} differs`;
  }
  return null;
}

function prefixDifference(fast: Summary, whole: Summary): string | null {
  const shared = Math.min(fast.stepDigests.length, whole.stepDigests.length);
  for (let i = 0; i < shared; i++) {
    if (fast.stepDigests[i] !== whole.stepDigests[i]) return `step ${i} differs`;
  }
  return null;
}

/** Runs the program again both ways and prints the first step that differs. */
async function showFirstDifference(pool: ExecutorPool, program: Program): Promise<string> {
  const fast = (await traceOnce(pool, program, false, true)).steps!;
  const whole = (await traceOnce(pool, program, true, true)).steps!;
  const wholeByIndex = new Map(whole.map((step) => [step.index, step]));
  const differing = fast.find((step) => wholeByIndex.has(step.index) && JSON.stringify(step) !== JSON.stringify(wholeByIndex.get(step.index)));
  if (differing === undefined) return '    (not reproduced on a second run)';
  return `    fast path:   ${JSON.stringify(differing)}\n    whole frame: ${JSON.stringify(wholeByIndex.get(differing.index))}`;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
