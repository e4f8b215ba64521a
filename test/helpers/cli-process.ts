import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** A `tracestream` process started by a test, with everything it printed so far. */
export interface CliProcess {
  child: ChildProcess;
  exited: Promise<number | string | null>;
  output(): string;
  /** SIGKILLs it if it still runs, and waits for its exit. */
  stop(): Promise<void>;
}

/**
 * Starts `tracestream ARGS` with the cluster and telemetry settings of the test's environment
 * cleared (a developer's KAFKA_BROKERS must not leak in); `env` adds to that.
 */
export function startCli(args: readonly string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, [MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KAFKA_BROKERS: '', TRACESTREAM_TELEMETRY_PORT: '', ...env },
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return {
    child,
    exited,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Polls `check` every 200 ms until it returns a value, failing with `what` after `timeoutMs`. */
export async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms${last === undefined ? '' : ` (last error: ${String(last)})`}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The telemetry server's address a long-running command prints at start. */
export function telemetryUrl(process: CliProcess): Promise<string> {
  return eventually('the process prints its telemetry address', 120_000, async () => /telemetry on (http:\/\/\S+) /.exec(process.output())?.[1]);
}
