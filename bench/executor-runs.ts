/**
 * How bench:executor runs one corpus program in each of its modes, and what it keeps of the run:
 * the answer (for fidelity), how it ended, and its time from submission to result (for the gap
 * between modes, program by program).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { ExecutorPool } from '../src/executor/index.js';
import type { Execution } from '../src/runs/index.js';

export interface Program {
  id: string;
  source: string;
  stdin: string;
  expected_stdout: string;
}

/**
 * `fresh`: a new `python3 prog.py` per program, as a user would run it; the others go through the
 * pool: not traced at all, traced with the fast path, or comparing the whole frame after every line.
 */
export type Mode = 'fresh' | 'untraced' | 'traced' | 'whole-frame';
export const MODES: readonly Mode[] = ['fresh', 'untraced', 'traced', 'whole-frame'];
export type PoolMode = Exclude<Mode, 'fresh'>;
export const POOL_MODES: readonly PoolMode[] = ['untraced', 'traced', 'whole-frame'];

/** A summary, not the Execution: a few thousand traces with their steps do not fit in the heap. */
export interface ProgramRun {
  /** stdout, or the OUTPUT_PATH file when stdout is empty (HackerRank's template). */
  output: string;
  /**
   * How it ended: the run's outcome, with `+trace-cut` when steps are missing from its trace
   * (nearly always its byte cap: the program then ran on untraced). Fresh runs end `ok`, `error`
   * (non-zero status or a signal) or `timeout` (killed at the pool's wall-clock limit).
   */
  outcome: string;
  reason: string;
  stepCount: number;
  /** From submission to result: the run's set-up and clean-up included. */
  ms: number;
  /** The program's own process, as its parent timed it: fork (or spawn) to exit. */
  processMs: number;
}

export function poolRequest(mode: PoolMode): { trace: boolean; compareWholeFrame: boolean } {
  return { trace: mode !== 'untraced', compareWholeFrame: mode === 'whole-frame' };
}

export async function runProgram(pool: ExecutorPool, mode: Mode, program: Program): Promise<ProgramRun> {
  const started = performance.now();
  const run = mode === 'fresh' ? await runFresh(pool, program) : await runPooled(pool, mode, program);
  return { ...run, ms: performance.now() - started };
}

async function runPooled(pool: ExecutorPool, mode: PoolMode, program: Program): Promise<Omit<ProgramRun, 'ms'>> {
  const execution = await pool.run({ runId: program.id, source: program.source, stdin: program.stdin, ...poolRequest(mode) });
  return {
    output: answerOf(execution),
    outcome: execution.traceTruncated ? `${execution.outcome}+trace-cut` : execution.outcome,
    reason: execution.reason,
    stepCount: execution.stepCount,
    processMs: execution.wallTimeMs,
  };
}

function answerOf(e: Execution): string {
  return e.stdout === '' ? (e.outputFile ?? '') : e.stdout;
}

/** A fresh interpreter in a temp dir, under the pool's wall-clock and output limits. */
async function runFresh(pool: ExecutorPool, program: Program): Promise<Omit<ProgramRun, 'ms'>> {
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
    const outcome = result.timedOut ? 'timeout' : result.failed ? 'error' : 'ok';
    const reason = result.timedOut ? 'wall-clock limit reached' : result.failed ? (result.shortMessage ?? 'failed').split('\n')[0]! : 'ran to completion';
    return { output, outcome, reason, stepCount: 0, processMs: result.durationMs };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
