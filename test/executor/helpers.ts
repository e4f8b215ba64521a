import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExecutorPool, type ExecutorPool } from '../../src/executor/index.js';
import { type Limits } from '../../src/runs/index.js';
import { processesOfUid } from '../../src/executor/sweep.js';
import type { Execution } from '../../src/runs/index.js';

/** Small limits so that hostile programs hit them fast. */
export const TEST_LIMITS: Partial<Limits> = {
  wallTimeMs: 4_000,
  cpuTimeMs: 3_000,
  addressSpaceBytes: 512 * 1024 * 1024,
  outputBytes: 64 * 1024,
  maxSteps: 20_000,
  traceBytes: 4 * 1024 * 1024,
};

let poolsStarted = 0;

/** Uids no other pool of this process (nor, most likely, of another test process) uses. */
function nextUidBase(): number {
  poolsStarted += 1;
  return 62_000 + ((process.pid % 1000) * 64 + poolsStarted * 8) % 60_000;
}

export interface TestPool {
  pool: ExecutorPool;
  /** Where this pool makes its run dirs; empty whenever no run is in progress. */
  runDirParent: string;
  close(): Promise<void>;
}

export async function startTestPool(
  options: { concurrency?: number; maxQueued?: number; limits?: Partial<Limits>; sandboxUidBase?: number; auditHooks?: boolean } = {},
): Promise<TestPool> {
  const runDirParent = await mkdtemp(join(tmpdir(), 'tracestream-test-runs-'));
  // Programs reach their work dir by absolute path, through this directory.
  await chmod(runDirParent, 0o711);
  const pool = await createExecutorPool({
    concurrency: options.concurrency ?? 2,
    maxQueued: options.maxQueued ?? 8,
    limits: { ...TEST_LIMITS, ...options.limits },
    runDirParent,
    sandboxUidBase: options.sandboxUidBase ?? nextUidBase(),
    ...(options.auditHooks === undefined ? {} : { auditHooks: options.auditHooks }),
  });
  return {
    pool,
    runDirParent,
    async close() {
      await pool.close();
      await rm(runDirParent, { recursive: true, force: true });
    },
  };
}

/** Run dirs still present, and processes of the sandbox uids still alive: both must be empty after a run. */
export async function leftovers(test: TestPool): Promise<{ runDirs: string[]; processes: number[] }> {
  const processes: number[] = [];
  for (const uid of test.pool.sandboxUids) processes.push(...(await processesOfUid(uid)));
  return { runDirs: await readdir(test.runDirParent), processes };
}

/** `line:name=value` for every variable change, in step order: what a trace says a program did. */
export function changes(execution: Execution): string[] {
  return execution.steps.flatMap((step) =>
    step.changes.map((c) => `${step.line}:${c.name}${c.kind === 'deleted' ? ' deleted' : `=${c.value}`}`));
}

/** A program's source from indented template text: strips the common indentation. */
export function py(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = String.raw(strings, ...values).replace(/^\n/, '');
  const indent = Math.min(...text.split('\n').filter((l) => l.trim()).map((l) => /^ */.exec(l)![0].length));
  return text.split('\n').map((l) => l.slice(indent)).join('\n');
}
