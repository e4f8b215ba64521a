import { tmpdir } from 'node:os';
import { execa } from 'execa';
import { TracestreamError } from '../errors/index.js';
import { parsePoolOptions, type ExecutorPoolOptions } from './pool-options.js';
import { chooseInterpreter, type Interpreter, type SandboxIdentity } from './interpreter.js';
import { DEFAULT_LIMITS, resolveLimits } from '../runs/index.js';
import { createRunDir, type RunDir } from './run-dir.js';
import { assembleExecution } from './assemble.js';
import { zygoteRequest } from './zygote-request.js';
import type { Execution, ExecutionRequest, Limits } from '../runs/index.js';
import { Worker, type JobHandle, type JobResult } from './worker.js';

export interface RunOptions {
  /** Aborting drops a queued run, or kills a running one; either way `run` rejects with RUN_CANCELLED. */
  signal?: AbortSignal;
}

/**
 * Runs untrusted Python programs, each in a fresh fork of a pre-started interpreter, sandboxed as
 * the README's "Sandbox" section describes (the zygote's protocol: the header of python/server.py). A program's behaviour never makes `run` reject: every way it can end is an
 * `Execution` with an `outcome`.
 *
 * Flow control: at most `concurrency` runs execute and at most `maxQueued` wait; a `run` beyond
 * that is refused at once with the retriable EXECUTOR_SATURATED instead of being buffered without
 * bound. `executeWith` never exceeds that capacity.
 *
 * @example
 * const pool = await createExecutorPool({ concurrency: 2 });
 * try {
 *   const execution = await pool.run({ source: 'x = 1\nprint(x)\n' });
 *   console.log(execution.outcome, execution.steps.length);
 * } finally {
 *   await pool.close();
 * }
 */
export interface ExecutorPool {
  readonly concurrency: number;
  readonly maxQueued: number;
  readonly interpreter: Interpreter;
  /** `namespace`: zygotes have no network at all; `audit-hooks`: only the child's audit hooks block it. */
  readonly networkIsolation: 'namespace' | 'audit-hooks';
  /**
   * What isolates one run from the host and from other runs (README, "Sandbox"): `box` (root:
   * namespaces, private file system, slot uid, seccomp), `uid` (root, but the host let us build
   * no box: slot uid, seccomp), `process` (not root: seccomp, rlimits and audit hooks only).
   */
  readonly isolation: 'box' | 'uid' | 'process';
  /** Why programs run unboxed although root; null when boxed or not root. */
  readonly boxFailure: string | null;
  /** The uids the slots have claimed and run programs as (one per slot); empty when not root. */
  readonly sandboxUids: readonly number[];
  readonly limits: Readonly<Limits>;
  run(request: ExecutionRequest, options?: RunOptions): Promise<Execution>;
  /** Idempotent. Refuses new runs, drops queued ones (EXECUTOR_CLOSED), lets running ones finish, stops the zygotes. */
  close(): Promise<void>;
}

interface Slot {
  worker: Worker;
  /** Runs given to the slot's zygote and not yet reported: the first runs, a second may wait there. */
  jobs: SlotJob[];
}

interface SlotJob {
  handle: JobHandle;
  withdrawing: boolean;
}

/** A slot's zygote holds its next run while the current one runs: at most this many jobs per slot. */
const JOBS_PER_SLOT = 2;

interface Queued {
  readonly request: ExecutionRequest;
  limits: Limits;
  signal: AbortSignal | undefined;
  /** Made while the run waits, so a freed slot starts it without touching the file system. */
  runDir: Promise<RunDir>;
  resolve: (execution: Execution) => void;
  reject: (error: unknown) => void;
  onAbort: () => void;
}

/** An unprivileged identity no slot claims: the interpreter probe runs as it, as programs will run. */
const PROBE_IDENTITY: SandboxIdentity = { uid: 65_534, gid: 65_534 };

export async function createExecutorPool(options: ExecutorPoolOptions = {}): Promise<ExecutorPool> {
  const { concurrency, maxQueued, sandboxUidBase, sandboxUidCount, ...rest } = parsePoolOptions(options);
  const limits = resolveLimits(DEFAULT_LIMITS, rest.limits);
  const root = process.getuid?.() === 0;
  const sandboxUids = root ? { first: sandboxUidBase, count: sandboxUidCount } : undefined;
  const interpreter = await chooseInterpreter({ python: rest.python, sandbox: root ? PROBE_IDENTITY : undefined });
  const isolateNetwork = rest.isolateNetwork && root && (await canUnshareNetwork());
  const box = rest.box;
  const slots: Slot[] = Array.from({ length: concurrency }, () => ({
    worker: new Worker({ interpreter, sandboxUids, isolateNetwork, box }),
    jobs: [],
  }));
  try {
    await Promise.all(slots.map((slot) => slot.worker.start()));
  } catch (error) {
    await Promise.all(slots.map((slot) => slot.worker.close()));
    throw error;
  }
  const boxFailure = root && box ? (slots.find((slot) => slot.worker.boxFailure !== null)?.worker.boxFailure ?? null) : null;
  return new Pool(slots, {
    isolation: !root ? 'process' : box && boxFailure === null ? 'box' : 'uid',
    boxFailure,
    concurrency,
    maxQueued,
    limits,
    interpreter,
    networkIsolation: isolateNetwork ? 'namespace' : 'audit-hooks',
    runDirParent: rest.runDirParent ?? tmpdir(),
    auditHooks: rest.auditHooks,
  });
}

async function canUnshareNetwork(): Promise<boolean> {
  const probe = await execa('unshare', ['-n', '--', 'true'], { reject: false, stdin: 'ignore', timeout: 5_000 });
  return probe.exitCode === 0;
}

/** What the pool is told at creation: what it shows as an ExecutorPool, and how it makes runs. */
type PoolConfig = Pick<ExecutorPool, 'concurrency' | 'maxQueued' | 'interpreter' | 'networkIsolation' | 'isolation' | 'boxFailure'> & {
  limits: Limits;
  runDirParent: string;
  auditHooks: boolean;
};

class Pool implements ExecutorPool {
  readonly concurrency: number;
  readonly maxQueued: number;
  readonly interpreter: Interpreter;
  readonly networkIsolation: ExecutorPool['networkIsolation'];
  readonly isolation: ExecutorPool['isolation'];
  readonly boxFailure: string | null;
  readonly limits: Readonly<Limits>;
  private readonly queue: Queued[] = [];
  private readonly running = new Set<Promise<void>>();
  private closing: Promise<void> | null = null;

  constructor(private readonly slots: Slot[], private readonly config: PoolConfig) {
    this.concurrency = config.concurrency;
    this.maxQueued = config.maxQueued;
    this.interpreter = config.interpreter;
    this.networkIsolation = config.networkIsolation;
    this.isolation = config.isolation;
    this.boxFailure = config.boxFailure;
    this.limits = Object.freeze({ ...config.limits });
  }

  get sandboxUids(): readonly number[] {
    return this.slots.flatMap((slot) => (slot.worker.sandbox === undefined ? [] : [slot.worker.sandbox.uid]));
  }

  run(request: ExecutionRequest, options: RunOptions = {}): Promise<Execution> {
    if (this.closing !== null) return Promise.reject(new TracestreamError('EXECUTOR_CLOSED', 'the executor pool is closed'));
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(cancelled(request));
    let limits: Limits;
    try {
      if (typeof request.source !== 'string') throw new TracestreamError('INPUT_INVALID', 'request.source: must be a string');
      limits = resolveLimits(this.config.limits, request.limits);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!this.slots.some((slot) => slot.jobs.length === 0) && this.waiting() >= this.maxQueued) {
      return Promise.reject(new TracestreamError(
        'EXECUTOR_SATURATED',
        `the executor pool is full (${this.concurrency} running, ${this.queue.length} queued); retry when a run ends`,
        { retriable: true },
      ));
    }
    return new Promise<Execution>((resolve, reject) => {
      const runDir = createRunDir(this.config.runDirParent, request.stdin ?? '', request.source);
      runDir.catch(() => undefined); // Reported by the run that awaits it.
      const entry: Queued = {
        request, limits, signal, runDir, resolve, reject,
        onAbort: () => {
          const at = this.queue.indexOf(entry);
          if (at !== -1) {
            this.queue.splice(at, 1);
            discard(runDir);
            reject(cancelled(request));
          }
        },
      };
      signal?.addEventListener('abort', entry.onAbort, { once: true });
      this.queue.push(entry);
      this.dispatch();
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const entry of this.queue.splice(0)) {
        entry.signal?.removeEventListener('abort', entry.onAbort);
        discard(entry.runDir);
        entry.reject(closedBeforeStart());
      }
      // Runs waiting at a zygote come back withdrawn and are refused the same way.
      for (const slot of this.slots) for (const job of slot.jobs.slice(1)) withdraw(job);
      await Promise.all([...this.running]);
      await Promise.all(this.slots.map((slot) => slot.worker.close()));
    })();
    return this.closing;
  }

  /** Runs waiting for a slot: in the pool's queue, or at a zygote behind its running job. */
  private waiting(): number {
    return this.queue.length + this.slots.reduce((sum, slot) => sum + Math.max(0, slot.jobs.length - 1), 0);
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      // An empty slot first; otherwise one whose zygote has nothing waiting.
      const slot = this.slots.find((s) => s.jobs.length === 0) ?? this.slots.find((s) => s.jobs.length < JOBS_PER_SLOT);
      if (slot === undefined) break;
      const entry = this.queue.shift()!;
      entry.signal?.removeEventListener('abort', entry.onAbort);
      this.start(slot, entry);
    }
    this.rebalance();
  }

  /**
   * A run waiting behind a long one at a zygote is taken back when another slot is empty, so a
   * slow program never holds up the run queued behind it.
   */
  private rebalance(): void {
    if (this.queue.length > 0 || !this.slots.some((slot) => slot.jobs.length === 0)) return;
    for (const slot of this.slots) {
      const waiting = slot.jobs[1];
      if (waiting !== undefined && !waiting.withdrawing) {
        withdraw(waiting);
        return;
      }
    }
  }

  private start(slot: Slot, entry: Queued): void {
    // The slot is free again as soon as its zygote reports (before the run's files are read), and
    // before the caller hears of the result, so a caller that submits its next run on completion
    // (executeWith) finds room and is never refused as saturated.
    const trace = entry.request.trace ?? true;
    const request = entry.runDir.then((runDir) => zygoteRequest(entry.request, entry.limits, trace, runDir, this.config.auditHooks));
    const job: SlotJob = { handle: slot.worker.run(request), withdrawing: false };
    slot.jobs.push(job);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      slot.jobs.splice(slot.jobs.indexOf(job), 1);
      this.dispatch();
    };
    const done: Promise<void> = this.execute(slot, job, entry, release).then(
      (execution) => {
        this.running.delete(done);
        if (execution !== WITHDRAWN) entry.resolve(execution);
        else if (this.closing !== null) entry.reject(closedBeforeStart());
        else this.requeue(entry);
      },
      (error: unknown) => {
        this.running.delete(done);
        release();
        entry.reject(error);
      },
    );
    this.running.add(done);
  }

  /** A withdrawn run goes back to the head of the queue, with a fresh run dir. */
  private requeue(entry: Queued): void {
    entry.runDir = createRunDir(this.config.runDirParent, entry.request.stdin ?? '', entry.request.source);
    entry.runDir.catch(() => undefined);
    if (entry.signal?.aborted) {
      discard(entry.runDir);
      entry.reject(cancelled(entry.request));
      return;
    }
    entry.signal?.addEventListener('abort', entry.onAbort, { once: true });
    this.queue.unshift(entry);
    this.dispatch();
  }

  /**
   * Only the zygote's part of a run holds the slot: the run dir was made while the run waited, the
   * zygote got the job while the slot's previous run was still running, and the zygote locks the
   * run dir (0700, out of the sandbox uid's reach) before it reports, so the slot's next program
   * starts at once while this run's files are read. On a busy event loop every step on that path
   * left an executor idle.
   */
  private async execute(slot: Slot, job: SlotJob, entry: Queued, release: () => void): Promise<Execution | typeof WITHDRAWN> {
    const { request, limits, signal } = entry;
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      job.handle.cancel();
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    let result: JobResult;
    let sandbox: SandboxIdentity | undefined;
    try {
      result = await job.handle.result;
      sandbox = slot.worker.sandbox;
    } catch (error) {
      discard(entry.runDir);
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    const runDir = await entry.runDir;
    try {
      // A zygote that died or hung could not lock the run dir; the worker has killed the slot's processes.
      if ('failure' in result) await runDir.lock().catch(() => undefined);
      release();
      if (aborted) throw cancelled(request);
      if ('withdrawn' in result) return WITHDRAWN;
      if ('report' in result && result.report.cancelled) throw cancelled(request);
      return await assembleExecution(request, limits, request.trace ?? true, result, runDir, sandbox, this.interpreter);
    } finally {
      await runDir.remove();
    }
  }
}

const WITHDRAWN = Symbol('withdrawn');

function withdraw(job: SlotJob): void {
  job.withdrawing = true;
  job.handle.withdraw();
}

function closedBeforeStart(): TracestreamError {
  return new TracestreamError('EXECUTOR_CLOSED', 'the executor pool closed before this run started');
}

/** Removes the run dir of a run that will never start. */
function discard(runDir: Promise<RunDir>): void {
  runDir.then((dir) => dir.remove(), () => undefined).catch(() => undefined);
}

function cancelled(request: ExecutionRequest): TracestreamError {
  return new TracestreamError('RUN_CANCELLED', `run ${request.runId ?? '(unnamed)'} was cancelled`);
}
