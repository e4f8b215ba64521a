import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** A Kafka cluster for a test file: KAFKA_BROKERS when set, else `tracestream broker` in a child process. */
export interface TestBroker {
  bootstrapServers: string;
  /** Stops the child broker (SIGTERM) and resolves with its exit code; 0 for an external cluster. */
  stop(): Promise<number | null>;
}

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export async function startTestBroker(): Promise<TestBroker> {
  const external = process.env['KAFKA_BROKERS'];
  if (external !== undefined && external !== '') return { bootstrapServers: external, stop: () => Promise.resolve(0) };
  const child = spawn(process.execPath, [MAIN, 'broker'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, KAFKA_BROKERS: '' } });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`tracestream broker exited with ${code} before printing its address`)));
  });
  const match = /^bootstrap\.servers=(.+)$/.exec(first);
  if (match === null) {
    child.kill('SIGKILL');
    throw new Error(`unexpected first line from tracestream broker: ${first}`);
  }
  return {
    bootstrapServers: match[1]!,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

let counter = 0;
/** A topic or group name no other test (or earlier run against the same cluster) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}
