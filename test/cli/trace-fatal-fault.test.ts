import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chooseTestBroker, startTestBroker, type TestBroker } from '../helpers/broker.js';
import { eventually, startCli } from '../helpers/cli-process.js';

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
  const trace = startCli([
    'trace', dir, '--out', join(dir, 'out'), '--brokers', broker.bootstrapServers,
    '--cluster-down-timeout-ms', '3000', '--concurrency', '2', '--wall-time-ms', '600000', '--cpu-time-ms', '600000',
    '--sandbox-uid-base', String(200_000 + Math.floor(Math.random() * 1_000_000)),
  ]);
  try {
    // Conditions with generous outer bounds: the test never waits on a duration.
    await eventually('the first trace is in (the topology runs, the sleepy program executes)', 180_000, async () => {
      if (trace.child.exitCode !== null) throw new Error(`trace exited (${trace.child.exitCode}) before the first trace; output:\n${trace.output()}`);
      return /tracing \S+ 1\/2/.test(trace.output()) ? true : undefined;
    });
    await broker.stop();
    const stoppedAt = Date.now();
    const code = await Promise.race([
      trace.exited,
      new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error(`tracestream trace hung after its broker died; output:\n${trace.output()}`)), 180_000).unref()),
    ]);
    t.diagnostic(`trace exited ${Date.now() - stoppedAt} ms after its broker stopped`);
    assert.notEqual(code, 0, trace.output());
    assert.match(trace.output(), /KAFKA_DISCONNECTED|no Kafka broker answered/, trace.output());
  } finally {
    await trace.stop();
  }
});
