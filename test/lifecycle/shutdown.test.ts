import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { AggregateTracestreamError, TracestreamError } from '../../src/errors/index.js';
import { installShutdown, runTeardowns, type Teardown } from '../../src/lifecycle/index.js';
import { until } from '../kafka/wait.js';

/** Teardowns that record their name in `order` when they run. */
function recording(order: string[], names: readonly string[]): { name: string; teardown: Teardown }[] {
  return names.map((name) => ({ name, teardown: () => void order.push(name) }));
}

/** The codes and messages of an AggregateTracestreamError's parts. */
function parts(error: unknown): { code: string; message: string; cause: unknown }[] {
  assert.ok(error instanceof AggregateTracestreamError, `expected an AggregateTracestreamError, got ${String(error)}`);
  return error.errors.map((e) => {
    assert.ok(e instanceof TracestreamError);
    return { code: e.code, message: e.message, cause: e.cause };
  });
}

describe('runTeardowns', () => {
  it('runs teardowns last-registered first, each after the previous one settled', async () => {
    const order: string[] = [];
    await runTeardowns([
      { name: 'sink', teardown: () => void order.push('sink') },
      {
        name: 'source',
        teardown: async () => {
          order.push('source started');
          await new Promise((resolve) => setTimeout(resolve, 20));
          order.push('source finished');
        },
      },
      { name: 'http', teardown: () => void order.push('http') },
    ], 10_000);
    assert.deepEqual(order, ['http', 'source started', 'source finished', 'sink']);
  });

  it('keeps running the others after a teardown throws or rejects, and rejects with SHUTDOWN_FAILED naming each failure', async () => {
    const order: string[] = [];
    const thrown = new Error('disconnect refused');
    const rejected = new Error('commit failed');
    const error = await runTeardowns([
      ...recording(order, ['first']),
      { name: 'producer', teardown: () => { order.push('producer'); throw thrown; } },
      ...recording(order, ['middle']),
      { name: 'consumer', teardown: async () => { order.push('consumer'); throw rejected; } },
      ...recording(order, ['last']),
    ], 10_000).then(() => undefined, (e: unknown) => e);
    assert.deepEqual(order, ['last', 'consumer', 'middle', 'producer', 'first']);
    assert.equal((error as TracestreamError).code, 'SHUTDOWN_FAILED');
    assert.deepEqual(parts(error), [
      { code: 'SHUTDOWN_FAILED', message: 'teardown consumer failed: Error: commit failed', cause: rejected },
      { code: 'SHUTDOWN_FAILED', message: 'teardown producer failed: Error: disconnect refused', cause: thrown },
    ]);
  });

  it('rejects with SHUTDOWN_TIMEOUT once the deadline passes on a teardown that never settles, reporting earlier failures too and starting no later teardown', async (t) => {
    // The deadline's clock is mocked: it passes when the test says so, not after real time.
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const order: string[] = [];
    let settled = false;
    const result = runTeardowns([
      ...recording(order, ['after-the-stuck-one']),
      { name: 'stuck', teardown: () => { order.push('stuck'); return new Promise<void>(() => {}); } },
      { name: 'failing', teardown: () => { order.push('failing'); throw new Error('boom'); } },
    ], 200).then(() => undefined, (e: unknown) => e).finally(() => { settled = true; });
    // setImmediate is not mocked: each turn lets the earlier teardowns settle.
    for (let turn = 0; turn < 1000 && !order.includes('stuck'); turn++) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, ['failing', 'stuck']);
    t.mock.timers.tick(199);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'it waits while the deadline has not passed');
    t.mock.timers.tick(1);
    const error = await result;
    assert.deepEqual(order, ['failing', 'stuck']);
    assert.equal((error as TracestreamError).code, 'SHUTDOWN_TIMEOUT');
    assert.deepEqual(parts(error).map(({ code, message }) => ({ code, message })), [
      { code: 'SHUTDOWN_FAILED', message: 'teardown failing failed: Error: boom' },
      { code: 'SHUTDOWN_TIMEOUT', message: 'teardown stuck did not finish within the 200 ms shutdown deadline' },
    ]);
  });
});

describe('installShutdown in process', () => {
  /** A handle whose exit and report are recorded instead of ending the test process. */
  function recorded(deadlineMs: number) {
    const exits: number[] = [];
    const reports: string[] = [];
    const handle = installShutdown({ deadlineMs, signals: [], exit: (code) => exits.push(code), report: (m) => reports.push(m) });
    return { handle, exits, reports };
  }

  it('shutdown runs the registered teardowns once, skips unregistered ones, reports a clean drain and exits 0', async () => {
    const { handle, exits, reports } = recorded(10_000);
    const order: string[] = [];
    handle.register('sink', () => void order.push('sink'));
    const unregister = handle.register('removed', () => void order.push('removed'));
    handle.register('source', () => void order.push('source'));
    unregister();
    const first = handle.shutdown('test');
    assert.equal(handle.shutdown('again'), first, 'a second call returns the running shutdown');
    await first;
    assert.deepEqual(order, ['source', 'sink']);
    assert.deepEqual(exits, [0]);
    assert.deepEqual(reports, ['tracestream: shut down cleanly (test)']);
  });

  it('exits 1 and reports every failure when a teardown fails', async () => {
    const { handle, exits, reports } = recorded(10_000);
    handle.register('producer', () => { throw new Error('flush failed'); });
    handle.register('consumer', () => Promise.reject(new Error('commit failed')));
    await handle.shutdown('test');
    assert.deepEqual(exits, [1]);
    assert.deepEqual(reports, [
      'tracestream: TracestreamError: shutdown was not clean: TracestreamError: teardown consumer failed: Error: commit failed; '
        + 'TracestreamError: teardown producer failed: Error: flush failed',
    ]);
  });

  it('exits 1 reporting the missed deadline when a teardown never settles', async () => {
    const { handle, exits, reports } = recorded(100);
    handle.register('stuck', () => new Promise<void>(() => {}));
    await handle.shutdown('test');
    assert.deepEqual(exits, [1]);
    assert.match(reports[0]!, /teardown stuck did not finish within the 100 ms shutdown deadline/);
  });

  it('installs one SIGTERM and one SIGINT handler and dispose removes them', () => {
    const before = [process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')];
    const handle = installShutdown({ deadlineMs: 1000, exit: () => {}, report: () => {} });
    assert.deepEqual([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')], [before[0]! + 1, before[1]! + 1]);
    handle.dispose();
    assert.deepEqual([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')], before);
  });
});

const LIFECYCLE_INDEX = new URL('../../src/lifecycle/index.js', import.meta.url).href;

/**
 * A process that installs the default shutdown (real signals, real process.exit) with a 'sink'
 * registered before a 'source', stays alive like a running pipeline until the sink teardown stops
 * it, and prints each step. Mode 'stuck' adds a last-registered teardown that never settles.
 */
const CHILD = `
import { installShutdown } from ${JSON.stringify(LIFECYCLE_INDEX)};
const [mode, deadlineMs] = process.argv.slice(1);
const say = (line) => process.stdout.write(line + '\\n');
const running = setInterval(() => {}, 1000);
const shutdown = installShutdown({ deadlineMs: Number(deadlineMs) });
shutdown.register('sink', () => { clearInterval(running); say('sink closed'); });
shutdown.register('source', async () => {
  say('source draining');
  await new Promise((resolve) => setTimeout(resolve, 50));
  say('source drained');
});
if (mode === 'stuck') shutdown.register('stuck', () => { say('stuck started'); return new Promise(() => {}); });
say('ready');
`;

interface Child {
  lines: string[];
  send(signal: NodeJS.Signals): void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function startChild(mode: 'clean' | 'stuck', deadlineMs: number): Child {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, mode, String(deadlineMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    // 'close' waits for stdout and stderr to end, so every printed line is in by then.
    child.once('close', (code, signal) => resolve({ code, signal, stderr }));
  });
  return { lines, send: (signal) => child.kill(signal), exited };
}

describe('installShutdown in a child process', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} drains the teardowns last-registered first, then exits 0`, async () => {
      const child = startChild('clean', 60_000);
      await until(() => child.lines.includes('ready'), 'the child to install its handlers');
      child.send(signal);
      const { code, signal: killedBy, stderr } = await child.exited;
      assert.deepEqual(child.lines, ['ready', 'source draining', 'source drained', 'sink closed']);
      assert.deepEqual({ code, killedBy }, { code: 0, killedBy: null });
      assert.equal(stderr, `tracestream: shut down cleanly (${signal})\n`);
    });
  }

  it('SIGTERM with a teardown that never settles exits 1 at the deadline, reporting the stuck teardown, without running the earlier-registered ones', async () => {
    const child = startChild('stuck', 300);
    await until(() => child.lines.includes('ready'), 'the child to install its handlers');
    child.send('SIGTERM');
    const { code, stderr } = await child.exited;
    assert.equal(code, 1);
    assert.deepEqual(child.lines, ['ready', 'stuck started']);
    assert.match(stderr, /teardown stuck did not finish within the 300 ms shutdown deadline/);
  });

  it('a second SIGTERM during the drain exits 1 at once', async () => {
    const child = startChild('stuck', 60_000);
    await until(() => child.lines.includes('ready'), 'the child to install its handlers');
    child.send('SIGTERM');
    await until(() => child.lines.includes('stuck started'), 'the drain to start');
    child.send('SIGTERM');
    const { code, stderr } = await child.exited;
    assert.equal(code, 1);
    assert.deepEqual(child.lines, ['ready', 'stuck started']);
    assert.equal(stderr, 'tracestream: SIGTERM again during shutdown; exiting now\n');
  });
});
