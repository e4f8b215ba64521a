import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { chooseTestBroker, startTestBroker, type TestBroker } from '../helpers/broker.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
// The broker is stopped by the test: a cluster named by KAFKA_BROKERS is not ours to stop.
const OWN_BROKER = { skip: chooseTestBroker(process.env).kind === 'external' && 'KAFKA_BROKERS names a cluster this test cannot stop' };

let dir: string;
let broker: TestBroker | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tracestream-fatal-fault-'));
  await writeFile(join(dir, 'quick.py'), 'print("done")\n');
  // Still running when the broker goes: nothing is produced or read until its trace is due.
  await writeFile(join(dir, 'sleepy.py'), 'import time\ntime.sleep(600)\n');
});

after(async () => {
  await broker?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('tracestream trace exits non-zero, naming KAFKA_DISCONNECTED, when its broker dies mid-stream while nothing is produced', { ...OWN_BROKER, timeout: 240_000 }, async (t) => {
  broker = await startTestBroker();
  const child = spawn(process.execPath, [
    MAIN, 'trace', dir, '--out', join(dir, 'out'), '--brokers', broker.bootstrapServers,
    '--cluster-down-timeout-ms', '3000', '--concurrency', '2', '--wall-time-ms', '600000', '--cpu-time-ms', '600000',
    '--sandbox-uid-base', String(200_000 + Math.floor(Math.random() * 1_000_000)),
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const progressed = new Promise<void>((resolve) => {
    const read = (chunk: Buffer): void => {
      output += chunk.toString();
      // The first trace is in: the topology runs, and the sleepy program is executing.
      if (/tracing \S+ 1\/2/.test(output)) resolve();
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
  });
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  try {
    // Generous outer bounds: the test waits on conditions, never on a duration.
    const hang = (what: string) => new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error(`${what}; output:\n${output}`)), 180_000).unref());
    await Promise.race([progressed, exited.then((code) => { throw new Error(`trace exited (${code}) before the first trace; output:\n${output}`); }), hang('no first trace')]);
    await broker.stop();
    const stoppedAt = Date.now();
    const code = await Promise.race([exited, hang('tracestream trace hung after its broker died')]);
    t.diagnostic(`trace exited ${Date.now() - stoppedAt} ms after its broker stopped`);
    assert.notEqual(code, 0, output);
    assert.match(output, /KAFKA_DISCONNECTED|no Kafka broker answered/, output);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  }
});
