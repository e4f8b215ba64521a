import { execa, type ResultPromise } from 'execa';
import { fileURLToPath } from 'node:url';
import { TracestreamError } from '../errors/index.js';
import type { Interpreter, SandboxIdentity } from './interpreter.js';

/** What server.py sends for one job (see its docstring). */
export interface ZygoteRequest {
  /** Everything of the job but its data: the child reads source and stdin after the fork. */
  job: {
    filename: string;
    trace: boolean;
    full_frame: boolean;
    max_steps: number;
    trace_bytes: number;
    repr_chars: number;
    output_bytes: number;
    wall_time_ms: number;
    cpu_time_ms: number;
    /** False only to test the kernel's layer alone. */
    audit_hook: boolean;
  };
  source_path: string;
  run_dir: string;
  work_dir: string;
  stdin_path: string;
  rlimits: {
    address_space_bytes: number;
    open_files: number;
    /** Processes and threads of the run (RLIMIT_NPROC on the slot's own uid). */
    processes: number;
    /** Caps of the run's tmpfs (work dir, /tmp, /dev/shm) when boxed. */
    disk_bytes: number;
    disk_files: number;
  };
}

/** How the child ended, as the zygote saw it. */
export interface ZygoteReport {
  exitCode: number | null;
  signal: string | null;
  wallMs: number;
  cpuMs: number;
  maxRssKb: number;
  killedForWallTime: boolean;
  cancelled: boolean;
  /** The program ran in a box; its OUTPUT_PATH file was copied to the run dir's `output`. */
  boxed: boolean;
}

/**
 * A report; or why there is none (the zygote died, hung, or could not start the child); or that
 * the job never started (withdrawn or cancelled while it waited, or its zygote died before it).
 */
export type JobResult = { report: ZygoteReport } | { failure: string } | { withdrawn: true };

/** A job given to a worker. */
export interface JobHandle {
  /** Settles when the zygote reports; rejects only when the zygote cannot be started (EXECUTOR_CRASHED). */
  readonly result: Promise<JobResult>;
  /** Kill the job if it runs, drop it if it waits. */
  cancel(): void;
  /** Drop the job if it still waits (it then ends `withdrawn`); a running job carries on. */
  withdraw(): void;
}

/** The uids a slot may claim (as root): the zygote takes the first one no other zygote on the host holds. */
export interface SandboxUidRange {
  first: number;
  count: number;
}

export interface WorkerOptions {
  interpreter: Interpreter;
  /** Where the slot claims the uid its programs run as (uid = gid); undefined when not root (no privilege drop). */
  sandboxUids: SandboxUidRange | undefined;
  /** Start the zygote in a new, empty network namespace (`unshare -n`). */
  isolateNetwork: boolean;
  /** As root, run each program in a box of its own (namespaces, private file system; see box.py). */
  box: boolean;
  startTimeoutMs?: number;
  /** How long past a job's wall limit the zygote may take to report before it is declared hung. */
  reportGraceMs?: number;
}

const SERVER_PATH = fileURLToPath(new URL('./python/server.py', import.meta.url));
const STDERR_TAIL_CHARS = 2048;
const CLOSE_WAIT_MS = 2_000;

interface Job {
  readonly id: number;
  /** How long the job may run before its zygote is declared hung: its wall limit plus the grace. */
  reportWithinMs: number;
  sent: boolean;
  settled: boolean;
  watchdog: NodeJS.Timeout | null;
  settle(result: JobResult): void;
  fail(error: unknown): void;
}

/**
 * One zygote (server.py) process and the jobs given to it: the first runs, the others wait at the
 * zygote, which starts the next one the moment the last ends (the pool gives a slot one job
 * ahead). A zygote that dies or hangs ends its running job with a failure (never a rejection),
 * hands back the waiting ones as `withdrawn`, and is started again for the next job.
 */
export class Worker {
  private process: ResultPromise | null = null;
  private starting: Promise<void> | null = null;
  /** Jobs given and not yet reported, in the order sent: the zygote runs them in that order. */
  private readonly jobs: Job[] = [];
  private nextJobId = 1;
  /** Sends in the order jobs were given. */
  private sending: Promise<void> = Promise.resolve();
  private stdoutBuffer = '';
  private stderrTail = '';
  private closed = false;
  private claimed: SandboxIdentity | undefined;
  private boxError: string | null = null;
  private readonly startTimeoutMs: number;
  private readonly reportGraceMs: number;

  constructor(private readonly options: WorkerOptions) {
    this.startTimeoutMs = options.startTimeoutMs ?? 30_000;
    this.reportGraceMs = options.reportGraceMs ?? 5_000;
  }

  /** Starts the zygote unless it is running; rejects with EXECUTOR_CRASHED if it cannot start. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new TracestreamError('EXECUTOR_CLOSED', 'the worker is closed'));
    if (this.process !== null && this.starting === null) return Promise.resolve();
    this.starting ??= this.spawn().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  /**
   * The uid/gid the current zygote claimed and runs programs as; undefined when not root or before
   * the first start. A restarted zygote may claim another one.
   */
  get sandbox(): SandboxIdentity | undefined {
    return this.claimed;
  }

  /** Why the zygote could not build boxes although asked to (then programs run unboxed); null otherwise. */
  get boxFailure(): string | null {
    return this.boxError;
  }

  /** Jobs given and not yet reported. */
  get outstanding(): number {
    return this.jobs.length;
  }

  /**
   * Gives the zygote a job; it runs after the ones given before it, even when its request (its run
   * dir still being made) is ready before theirs.
   */
  run(request: ZygoteRequest | Promise<ZygoteRequest>): JobHandle {
    let settle!: (result: JobResult) => void;
    let fail!: (error: unknown) => void;
    const result = new Promise<JobResult>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    const job: Job = {
      id: this.nextJobId++,
      reportWithinMs: 0,
      sent: false,
      settled: false,
      watchdog: null,
      // Idempotent: the watchdog, the exit handler and close may all try to end the same job.
      settle: (outcome) => this.finish(job, () => settle(outcome)),
      fail: (error) => this.finish(job, () => fail(error)),
    };
    this.jobs.push(job);
    this.sending = this.sending.then(() => this.send(job, request));
    return {
      result,
      cancel: () => this.control(job, 'cancel'),
      withdraw: () => this.control(job, 'withdraw'),
    };
  }

  private async send(job: Job, pending: ZygoteRequest | Promise<ZygoteRequest>): Promise<void> {
    let request: ZygoteRequest;
    try {
      [request] = await Promise.all([pending, this.start()]);
    } catch (error) {
      job.fail(error);
      return;
    }
    if (job.settled) return; // Withdrawn while the zygote started or the request was made.
    const subprocess = this.process;
    if (subprocess === null) {
      job.settle({ failure: 'the executor process exited before the job was sent' });
      return;
    }
    job.sent = true;
    job.reportWithinMs = request.job.wall_time_ms + this.reportGraceMs;
    subprocess.stdin?.write(`${JSON.stringify({ id: job.id, ...request })}\n`);
    if (this.jobs[0] === job) this.watch(job);
  }

  private control(job: Job, action: 'cancel' | 'withdraw'): void {
    if (job.settled) return;
    if (!job.sent) job.settle({ withdrawn: true });
    else this.process?.stdin?.write(`${JSON.stringify({ [action]: job.id })}\n`);
  }

  /** Only the running job is watched: a waiting one has not started its clock. */
  private watch(job: Job): void {
    job.watchdog = setTimeout(() => {
      this.fail(`the executor process did not report within ${job.reportWithinMs} ms`);
    }, job.reportWithinMs);
  }

  private finish(job: Job, notify: () => void): void {
    if (job.settled) return;
    job.settled = true;
    if (job.watchdog !== null) clearTimeout(job.watchdog);
    const at = this.jobs.indexOf(job);
    if (at !== -1) this.jobs.splice(at, 1);
    const next = this.jobs[0];
    if (at === 0 && next !== undefined && next.sent && next.watchdog === null) this.watch(next);
    notify();
  }

  /** Idempotent. Ends a running job and stops the zygote, which kills whatever of its slot is left. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.starting?.catch(() => undefined);
    const subprocess = this.process;
    if (subprocess !== null) {
      // EOF on stdin makes the zygote kill its running child and exit; SIGKILL if it does not.
      subprocess.stdin?.end();
      const exited = await Promise.race([
        subprocess.then(() => true, () => true),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), CLOSE_WAIT_MS).unref()),
      ]);
      if (!exited) this.killProcess(subprocess);
      await subprocess.then(() => undefined, () => undefined);
    }
    for (const job of [...this.jobs]) job.settle({ failure: 'the executor was closed' });
  }

  private async spawn(): Promise<void> {
    const { interpreter, sandboxUids, isolateNetwork, box } = this.options;
    const python = [interpreter.command, '-s', '-B', SERVER_PATH];
    if (sandboxUids !== undefined) python.push('--uid-first', String(sandboxUids.first), '--uid-count', String(sandboxUids.count));
    if (box) python.push('--box');
    const [file, ...args] = isolateNetwork ? ['unshare', '-n', '--', ...python] : python;
    this.stdoutBuffer = '';
    this.stderrTail = '';
    this.claimed = undefined;
    const subprocess = execa(file!, args, {
      // PYTHONHASHSEED is fixed when the interpreter starts and inherited by every forked child;
      // OpenBLAS threads started before fork would deadlock the children.
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', PYTHONHASHSEED: '0', OPENBLAS_NUM_THREADS: '1' },
      extendEnv: false,
      cwd: '/',
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      detached: true,
      cleanup: true,
    });
    this.process = subprocess;
    subprocess.stdin?.on('error', () => undefined); // EPIPE when it died: the exit handler reports it.
    subprocess.stderr?.setEncoding('utf8');
    subprocess.stderr?.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
    });
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(this.startError(`it did not start within ${this.startTimeoutMs} ms`));
        this.killProcess(subprocess);
      }, this.startTimeoutMs);
      subprocess.stdout?.setEncoding('utf8');
      subprocess.stdout?.on('data', (chunk: string) => {
        this.stdoutBuffer += chunk;
        let newline: number;
        while ((newline = this.stdoutBuffer.indexOf('\n')) !== -1) {
          const line = this.stdoutBuffer.slice(0, newline);
          this.stdoutBuffer = this.stdoutBuffer.slice(newline + 1);
          const message = parseLine(line);
          if (message?.['ready'] === true) {
            clearTimeout(timer);
            const uid = message['uid'];
            this.claimed = typeof uid === 'number' ? { uid, gid: uid } : undefined;
            this.boxError = box && message['boxed'] !== true ? String(message['box_error'] ?? 'not root') : null;
            resolve();
          } else {
            this.onMessage(message, line);
          }
        }
      });
      subprocess.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (this.process === subprocess) this.process = null;
        const why = `exited (${signal ?? `status ${code}`})${this.stderrTail ? `: ${lastLine(this.stderrTail)}` : ''}`;
        reject(this.startError(why));
        if (this.jobs.some((job) => job.sent)) this.fail(`the executor process ${why}`);
      });
    });
    void subprocess.then(() => undefined, () => undefined);
    await ready;
  }

  private onMessage(message: Record<string, unknown> | null, line: string): void {
    if (message === null) {
      if (this.jobs.some((job) => job.sent)) this.fail(`the executor process sent an unreadable line: ${line.slice(0, 200)}`);
      return;
    }
    const job = this.jobs.find((candidate) => candidate.id === message['id']);
    if (job === undefined) return; // A job that already ended (a cancel crossed its report).
    if (message['withdrawn'] === true) {
      job.settle({ withdrawn: true });
    } else if (typeof message['error'] === 'string') {
      job.settle({ failure: message['error'] });
    } else {
      job.settle({
        report: {
          exitCode: typeof message['exit_code'] === 'number' ? message['exit_code'] : null,
          signal: typeof message['signal'] === 'string' ? message['signal'] : null,
          wallMs: Number(message['wall_ms'] ?? 0),
          cpuMs: Number(message['cpu_ms'] ?? 0),
          maxRssKb: Number(message['max_rss_kb'] ?? 0),
          killedForWallTime: message['killed_for_wall_time'] === true,
          cancelled: message['cancelled'] === true,
          boxed: message['boxed'] === true,
        },
      });
    }
  }

  /**
   * Kills the zygote and what its job left running, then ends the running job with `reason` and
   * hands back the waiting ones (they never started); the next job starts a fresh zygote.
   */
  private fail(reason: string): void {
    const sent = this.jobs.filter((job) => job.sent);
    const subprocess = this.process;
    this.process = null;
    if (subprocess !== null) this.killProcess(subprocess);
    const [running, ...waiting] = sent;
    for (const job of waiting) job.settle({ withdrawn: true });
    // Its run dies with it (PR_SET_PDEATHSIG); the next zygote to claim the uid sweeps any leftover.
    const exited = subprocess === null ? Promise.resolve() : subprocess.then(() => undefined, () => undefined);
    void exited.then(() => running?.settle({ failure: reason }));
  }

  private killProcess(subprocess: ResultPromise): void {
    try {
      // detached: the zygote leads its own process group (its children have their own sessions).
      if (subprocess.pid !== undefined) process.kill(-subprocess.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }

  private startError(why: string): TracestreamError {
    return new TracestreamError('EXECUTOR_CRASHED', `the executor process (${this.options.interpreter.command} server.py) ${why}`, {
      retriable: true,
    });
  }
}

function parseLine(line: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? '';
}
