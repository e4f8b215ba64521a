import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** A `tracestream` child process; `exited` settles with its exit code (or signal name). */
export interface Cli {
  child: ChildProcess;
  exited: Promise<number | string | null>;
  /** Its stdout and stderr so far, interleaved as they arrived. */
  output(): string;
}

/**
 * Starts `tracestream ARGS` with this process's environment, less KAFKA_BROKERS (a test names its
 * broker with --brokers), plus `env`.
 */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Cli {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KAFKA_BROKERS: '', ...env } });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return { child, exited, output: () => output };
}
