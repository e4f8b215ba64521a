import { execa, type ResultPromise } from 'execa';
import { fileURLToPath } from 'node:url';
import { TracestreamError } from '../errors/index.js';
import type { Interpreter, SandboxIdentity } from './interpreter.js';
import { killUidProcesses } from './sweep.js';

/** What server.py sends for one job (see its docstring). */
export interface ZygoteRequest {
  job: {
    source: string;
    filename: string;
    trace: boolean;
    max_steps: number;
    trace_bytes: number;
    repr_chars: number;
    output_bytes: number;
    wall_time_ms: number;
    cpu_time_ms: number;
  };
  run_dir: string;
  work_dir: string;
  stdin_path: string;
  rlimits: { address_space_bytes: number; open_files: number };
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
}

/** A report, or why there is none (the zygote died, hung, or could not start the child). */
export type JobResult = { report: ZygoteReport } | { failure: string };

export interface WorkerOptions {
  interpreter: Interpreter;
  /** The uid/gid programs of this slot run as; undefined when not root (no privilege drop). */
  sandbox: SandboxIdentity | undefined;
  /** Start the zygote in a new, empty network namespace (`unshare -n`). */
  isolateNetwork: boolean;
  startTimeoutMs?: number;
  /** How long past a job's wall limit the zygote may take to report before it is declared hung. */
  reportGraceMs?: number;
}

const SERVER_PATH = fileURLToPath(new URL('./python/server.py', import.meta.url));
const STDERR_TAIL_CHARS = 2048;
const CLOSE_WAIT_MS = 2_000;

interface Pending {
  settle: (result: JobResult) => void;
  watchdog: NodeJS.Timeout;
}

/**
 * One zygote (server.py) process and the single job it may be running. A zygote that dies or hangs
 * ends its job with a failure (never a rejection) and is started again for the next job.
 */
export class Worker {
  private process: ResultPromise | null = null;
  private starting: Promise<void> | null = null;
  private pending: Pending | null = null;
  private stdoutBuffer = '';
  private stderrTail = '';
  private closed = false;
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

  /** Runs one job; resolves when the zygote reports (or fails). One job at a time. */
  async run(request: ZygoteRequest): Promise<JobResult> {
    if (this.pending !== null) throw new Error('Worker.run: a job is already running');
    await this.start();
    const subprocess = this.process;
    if (subprocess === null) return { failure: 'the executor process exited before the job was sent' };
    return new Promise<JobResult>((resolve) => {
      const watchdog = setTimeout(() => {
        this.fail(`the executor process did not report within ${request.job.wall_time_ms + this.reportGraceMs} ms`);
      }, request.job.wall_time_ms + this.reportGraceMs);
      let settled = false;
      const pending: Pending = {
        watchdog,
        // Idempotent: the watchdog, the exit handler and close may all try to end the same job.
        settle: (result) => {
          if (settled) return;
          settled = true;
          clearTimeout(watchdog);
          if (this.pending === pending) this.pending = null;
          resolve(result);
        },
      };
      this.pending = pending;
      subprocess.stdin?.write(`${JSON.stringify(request)}\n`);
    });
  }

  /** Asks the zygote to kill the running job; it then reports with `cancelled: true`. */
  cancel(): void {
    if (this.pending !== null) this.process?.stdin?.write('{"cancel": true}\n');
  }

  /** Idempotent. Ends a running job, stops the zygote and kills whatever of its slot is left. */
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
    this.pending?.settle({ failure: 'the executor was closed' });
    await this.sweep();
  }

  private async spawn(): Promise<void> {
    const { interpreter, sandbox, isolateNetwork } = this.options;
    const python = [interpreter.command, '-s', '-B', SERVER_PATH];
    if (sandbox !== undefined) python.push('--uid', String(sandbox.uid), '--gid', String(sandbox.gid));
    const [file, ...args] = isolateNetwork ? ['unshare', '-n', '--', ...python] : python;
    this.stdoutBuffer = '';
    this.stderrTail = '';
    // A previous zygote that died mid-job may have left its child running as this slot's uid.
    await this.sweep();
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
        if (this.pending !== null) this.fail(`the executor process ${why}`);
      });
    });
    void subprocess.then(() => undefined, () => undefined);
    await ready;
  }

  private onMessage(message: Record<string, unknown> | null, line: string): void {
    const pending = this.pending;
    if (pending === null) return;
    if (message === null) {
      this.fail(`the executor process sent an unreadable line: ${line.slice(0, 200)}`);
    } else if (typeof message['error'] === 'string') {
      pending.settle({ failure: message['error'] });
    } else {
      pending.settle({
        report: {
          exitCode: typeof message['exit_code'] === 'number' ? message['exit_code'] : null,
          signal: typeof message['signal'] === 'string' ? message['signal'] : null,
          wallMs: Number(message['wall_ms'] ?? 0),
          cpuMs: Number(message['cpu_ms'] ?? 0),
          maxRssKb: Number(message['max_rss_kb'] ?? 0),
          killedForWallTime: message['killed_for_wall_time'] === true,
          cancelled: message['cancelled'] === true,
        },
      });
    }
  }

  /**
   * Kills the zygote and what its job left running, then ends the job with `reason`; the next job
   * starts a fresh zygote.
   */
  private fail(reason: string): void {
    const pending = this.pending;
    const subprocess = this.process;
    this.process = null;
    if (subprocess !== null) this.killProcess(subprocess);
    void this.sweep().finally(() => pending?.settle({ failure: reason }));
  }

  private killProcess(subprocess: ResultPromise): void {
    try {
      // detached: the zygote leads its own process group (its children have their own sessions).
      if (subprocess.pid !== undefined) process.kill(-subprocess.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }

  private async sweep(): Promise<void> {
    if (this.options.sandbox !== undefined) await killUidProcesses(this.options.sandbox.uid);
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
