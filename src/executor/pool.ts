import { randomUUID } from 'node:crypto';
import { availableParallelism, tmpdir } from 'node:os';
import { execa } from 'execa';
import { TracestreamError } from '../errors/index.js';
import { chooseInterpreter, type Interpreter, type SandboxIdentity } from './interpreter.js';
import { DEFAULT_LIMITS, resolveLimits } from './limits.js';
import { decideOutcome } from './outcome.js';
import { createRunDir, readPrefix, readProgramFile, readTail, type RunDir } from './run-dir.js';
import { parseTraceChannel, TRACER_VERSION } from './trace-channel.js';
import type { Execution, ExecutionRequest, Limits } from './types.js';
import { Worker, type JobResult, type ZygoteRequest } from './worker.js';

export interface ExecutorPoolOptions {
  /** Programs run at once, one zygote each. Default: `os.availableParallelism()`. */
  concurrency?: number;
  /** Runs that may wait for a free slot; past it `run` refuses (EXECUTOR_SATURATED). Default: 4 × concurrency. */
  maxQueued?: number;
  /** Interpreter path or name (the `python` setting); unset: see `chooseInterpreter`. */
  python?: string;
  /** As root, slot N runs programs as uid/gid `sandboxUidBase + N`. Default 61000. */
  sandboxUidBase?: number;
  /** Defaults for every run; a request's own `limits` override them. */
  limits?: Partial<Limits>;
  /** Where run dirs are made. Default: `os.tmpdir()`. */
  runDirParent?: string;
  /** Put the zygotes in an empty network namespace when possible (root + `unshare -n`). Default true. */
  isolateNetwork?: boolean;
}

export interface RunOptions {
  /** Aborting drops a queued run, or kills a running one; either way `run` rejects with RUN_CANCELLED. */
  signal?: AbortSignal;
}

/**
 * Runs untrusted Python programs, each in a fresh fork of a pre-started interpreter, sandboxed as
 * contract.md describes. A program's behaviour never makes `run` reject: every way it can end is an
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
  /** The uids programs run as (one per slot), or empty when not root and nothing is dropped. */
  readonly sandboxUids: readonly number[];
  readonly limits: Readonly<Limits>;
  run(request: ExecutionRequest, options?: RunOptions): Promise<Execution>;
  /** Idempotent. Refuses new runs, drops queued ones (EXECUTOR_CLOSED), lets running ones finish, stops the zygotes. */
  close(): Promise<void>;
}

interface Slot {
  worker: Worker;
  sandbox: SandboxIdentity | undefined;
  /** Aborts the run the slot is executing. */
  cancel: (() => void) | null;
}

interface Queued {
  request: ExecutionRequest;
  limits: Limits;
  signal: AbortSignal | undefined;
  resolve: (execution: Execution) => void;
  reject: (error: unknown) => void;
  onAbort: () => void;
}

const STDERR_TAIL_BYTES = 4096;
const DEFAULT_SANDBOX_UID_BASE = 61_000;

export async function createExecutorPool(options: ExecutorPoolOptions = {}): Promise<ExecutorPool> {
  const concurrency = options.concurrency ?? availableParallelism();
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new TracestreamError('CONFIG_INVALID', `concurrency: must be a positive integer, got ${concurrency}`);
  }
  const maxQueued = options.maxQueued ?? 4 * concurrency;
  if (!Number.isInteger(maxQueued) || maxQueued < 0) {
    throw new TracestreamError('CONFIG_INVALID', `maxQueued: must be a non-negative integer, got ${maxQueued}`);
  }
  const limits = resolveLimits(DEFAULT_LIMITS, options.limits);
  const root = process.getuid?.() === 0;
  const uidBase = options.sandboxUidBase ?? DEFAULT_SANDBOX_UID_BASE;
  const sandboxes = Array.from({ length: concurrency }, (_, slot) =>
    root ? { uid: uidBase + slot, gid: uidBase + slot } : undefined);
  const interpreter = await chooseInterpreter({ python: options.python, sandbox: sandboxes[0] });
  const isolateNetwork = (options.isolateNetwork ?? true) && root && (await canUnshareNetwork());
  const slots: Slot[] = sandboxes.map((sandbox) => ({
    worker: new Worker({ interpreter, sandbox, isolateNetwork }),
    sandbox,
    cancel: null,
  }));
  try {
    await Promise.all(slots.map((slot) => slot.worker.start()));
  } catch (error) {
    await Promise.all(slots.map((slot) => slot.worker.close()));
    throw error;
  }
  return new Pool(slots, {
    concurrency,
    maxQueued,
    limits,
    interpreter,
    networkIsolation: isolateNetwork ? 'namespace' : 'audit-hooks',
    runDirParent: options.runDirParent ?? tmpdir(),
  });
}

async function canUnshareNetwork(): Promise<boolean> {
  const probe = await execa('unshare', ['-n', '--', 'true'], { reject: false, stdin: 'ignore', timeout: 5_000 });
  return probe.exitCode === 0;
}

interface PoolConfig {
  concurrency: number;
  maxQueued: number;
  limits: Limits;
  interpreter: Interpreter;
  networkIsolation: 'namespace' | 'audit-hooks';
  runDirParent: string;
}

class Pool implements ExecutorPool {
  readonly concurrency: number;
  readonly maxQueued: number;
  readonly interpreter: Interpreter;
  readonly networkIsolation: 'namespace' | 'audit-hooks';
  readonly limits: Readonly<Limits>;
  readonly sandboxUids: readonly number[];
  private readonly idle: Slot[];
  private readonly queue: Queued[] = [];
  private readonly running = new Set<Promise<void>>();
  private closing: Promise<void> | null = null;

  constructor(private readonly slots: Slot[], private readonly config: PoolConfig) {
    this.concurrency = config.concurrency;
    this.maxQueued = config.maxQueued;
    this.interpreter = config.interpreter;
    this.networkIsolation = config.networkIsolation;
    this.limits = Object.freeze({ ...config.limits });
    this.sandboxUids = slots.flatMap((slot) => (slot.sandbox === undefined ? [] : [slot.sandbox.uid]));
    this.idle = [...slots];
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
    if (this.idle.length === 0 && this.queue.length >= this.maxQueued) {
      return Promise.reject(new TracestreamError(
        'EXECUTOR_SATURATED',
        `the executor pool is full (${this.concurrency} running, ${this.queue.length} queued); retry when a run ends`,
        { retriable: true },
      ));
    }
    return new Promise<Execution>((resolve, reject) => {
      const entry: Queued = {
        request, limits, signal, resolve, reject,
        onAbort: () => {
          const at = this.queue.indexOf(entry);
          if (at !== -1) {
            this.queue.splice(at, 1);
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
        entry.reject(new TracestreamError('EXECUTOR_CLOSED', 'the executor pool closed before this run started'));
      }
      await Promise.all([...this.running]);
      await Promise.all(this.slots.map((slot) => slot.worker.close()));
    })();
    return this.closing;
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const slot = this.idle.pop()!;
      const entry = this.queue.shift()!;
      entry.signal?.removeEventListener('abort', entry.onAbort);
      // The slot is free again before the caller hears of the result, so a caller that submits
      // its next run on completion (executeWith) finds room and is never refused as saturated.
      const release = () => {
        this.running.delete(done);
        this.idle.push(slot);
        this.dispatch();
      };
      const done: Promise<void> = this.execute(slot, entry).then(
        (execution) => {
          release();
          entry.resolve(execution);
        },
        (error: unknown) => {
          release();
          entry.reject(error);
        },
      );
      this.running.add(done);
    }
  }

  private async execute(slot: Slot, entry: Queued): Promise<Execution> {
    const { request, limits, signal } = entry;
    if (signal?.aborted) throw cancelled(request);
    const runDir = await createRunDir(this.config.runDirParent, request.stdin ?? '', slot.sandbox);
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      slot.worker.cancel();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const trace = request.trace ?? true;
      const result = await slot.worker.run(zygoteRequest(request, limits, trace, runDir));
      if (aborted || ('report' in result && result.report.cancelled)) throw cancelled(request);
      return await assemble(request, limits, trace, result, runDir, slot.sandbox, this.interpreter);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await runDir.remove();
    }
  }
}

function zygoteRequest(request: ExecutionRequest, limits: Limits, trace: boolean, runDir: RunDir): ZygoteRequest {
  return {
    job: {
      source: request.source,
      filename: request.filename ?? 'main.py',
      trace,
      max_steps: limits.maxSteps,
      trace_bytes: limits.traceBytes,
      repr_chars: limits.reprChars,
      output_bytes: limits.outputBytes,
      wall_time_ms: limits.wallTimeMs,
      cpu_time_ms: limits.cpuTimeMs,
    },
    run_dir: runDir.path,
    work_dir: runDir.workDir,
    stdin_path: runDir.stdinPath,
    rlimits: { address_space_bytes: limits.addressSpaceBytes, open_files: limits.openFiles },
  };
}

async function assemble(
  request: ExecutionRequest,
  limits: Limits,
  trace: boolean,
  result: JobResult,
  runDir: RunDir,
  sandbox: SandboxIdentity | undefined,
  interpreter: Interpreter,
): Promise<Execution> {
  const report = 'report' in result ? result.report : null;
  // The trace file is bounded by the child's RLIMIT_FSIZE; read what that allows.
  const traceLimit = limits.traceBytes + limits.outputBytes + 1024 * 1024;
  const [stdout, stderr, traceFile, outputFile] = await Promise.all([
    readPrefix(runDir.stdoutPath, limits.outputBytes),
    readTail(runDir.stderrPath, STDERR_TAIL_BYTES),
    readPrefix(runDir.tracePath, traceLimit),
    readProgramFile(runDir.outputPath, limits.outputBytes, sandbox),
  ]);
  const channel = parseTraceChannel(traceFile?.bytes ?? Buffer.alloc(0));
  const stderrTail = decode(stderr?.bytes);
  const decision = decideOutcome({
    end: channel.end,
    exitCode: report?.exitCode ?? null,
    signal: report?.signal ?? null,
    killedForWallTime: report?.killedForWallTime ?? false,
    stdoutBytes: stdout?.size ?? 0,
    outputFileBytes: outputFile?.size ?? null,
    stderrTail,
    limits,
    sandboxFailure: 'failure' in result ? result.failure : null,
  });
  const steps = trace ? channel.steps : [];
  return {
    runId: request.runId ?? randomUUID(),
    outcome: decision.outcome,
    exitCode: report?.exitCode ?? null,
    signal: report?.signal ?? null,
    stdout: decode(stdout?.bytes),
    stderrTail,
    outputFile: outputFile === null ? null : decode(outputFile.bytes),
    exception: decision.exception,
    reason: decision.reason,
    wallTimeMs: report?.wallMs ?? 0,
    cpuTimeMs: report?.cpuMs ?? 0,
    steps,
    stepCount: trace ? (channel.end?.stepCount ?? steps.length) : 0,
    traceTruncated: trace && (channel.truncation !== null || channel.end === null),
    limits,
    tracerVersion: channel.tracerVersion ?? TRACER_VERSION,
    pythonVersion: channel.pythonVersion ?? interpreter.version,
  };
}

const decoder = new TextDecoder('utf-8', { fatal: false });

function decode(bytes: Buffer | undefined): string {
  return bytes === undefined ? '' : decoder.decode(bytes);
}

function cancelled(request: ExecutionRequest): TracestreamError {
  return new TracestreamError('RUN_CANCELLED', `run ${request.runId ?? '(unnamed)'} was cancelled`);
}
