import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import { isTracestreamError } from '../../src/errors/index.js';
import type { Execution } from '../../src/runs/index.js';
import { processesOfUid } from '../../src/executor/sweep.js';
import { leftovers, py, startTestPool, type TestPool } from './helpers.js';

let test_: TestPool;
before(async () => {
  test_ = await startTestPool({ concurrency: 2, maxQueued: 2 });
});
after(async () => {
  await test_.close();
});

function withoutTimings(execution: Execution): string {
  const { wallTimeMs: _w, cpuTimeMs: _c, runId: _r, ...rest } = execution;
  return JSON.stringify(rest);
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const sandboxProcesses = async () => (await Promise.all(test_.pool.sandboxUids.map(processesOfUid))).flat();

test('the same program and stdin twice give byte-identical traces', async () => {
  const source = py`
    import sys
    class P:
        def __init__(self, v):
            self.v = v
    data = {w: len(w) for w in sys.stdin.read().split()}
    objs = [P(k) for k in sorted(data)]
    print(set(data), objs[0].v)
  `;
  const first = await test_.pool.run({ source, stdin: 'b a c a\n' });
  const second = await test_.pool.run({ source, stdin: 'b a c a\n' });
  assert.equal(first.outcome, 'ok');
  assert.ok(first.steps.length > 5);
  assert.equal(withoutTimings(second), withoutTimings(first));
});

test('a printed set of strings is the same traced, untraced and under a plain python3 with PYTHONHASHSEED=0', async () => {
  const source = 'words = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta"}\nprint(words)\nprint(hash("alpha"))\n';
  const traced = await test_.pool.run({ source });
  const untraced = await test_.pool.run({ source, trace: false });
  const plain = await execa(test_.pool.interpreter.command, ['-c', source], {
    env: { PYTHONHASHSEED: '0', PYTHONIOENCODING: 'utf-8' }, extendEnv: false, cwd: '/', stripFinalNewline: false,
  });
  assert.equal(traced.outcome, 'ok');
  assert.equal(untraced.stdout, traced.stdout);
  assert.equal(plain.stdout, traced.stdout);
  assert.deepEqual(untraced.steps, []);
  assert.equal(untraced.traceTruncated, false);
});

test('no more programs run at once than the pool concurrency, and past the queue run refuses', async () => {
  const source = 'import time\nprint(time.time())\ntime.sleep(0.4)\nprint(time.time())\n';
  const runs = Array.from({ length: 4 }, () => test_.pool.run({ source }));
  await assert.rejects(test_.pool.run({ source }), (e) => isTracestreamError(e, 'EXECUTOR_SATURATED') && e.retriable);
  const intervals = (await Promise.all(runs)).map((e) => e.stdout.trim().split('\n').map(Number) as [number, number]);
  let maxOverlap = 0;
  for (const [start] of intervals) {
    maxOverlap = Math.max(maxOverlap, intervals.filter(([s, end]) => s <= start && start < end).length);
  }
  assert.equal(maxOverlap, 2);
});

test('aborting a queued run drops it with RUN_CANCELLED', async () => {
  const busy = [test_.pool.run({ source: 'import time\ntime.sleep(0.5)\n' }), test_.pool.run({ source: 'import time\ntime.sleep(0.5)\n' })];
  const controller = new AbortController();
  const queued = test_.pool.run({ source: 'open("ran", "w")\n' }, { signal: controller.signal });
  controller.abort();
  await assert.rejects(queued, (e) => isTracestreamError(e, 'RUN_CANCELLED'));
  assert.deepEqual((await Promise.all(busy)).map((e) => e.outcome), ['ok', 'ok']);
});

test('aborting a running program kills it, rejects with RUN_CANCELLED and cleans up', async () => {
  const controller = new AbortController();
  const running = test_.pool.run({ source: 'while True:\n    pass\n', limits: { wallTimeMs: 60_000, cpuTimeMs: 60_000, maxSteps: 0 } }, { signal: controller.signal });
  await until(async () => (await sandboxProcesses()).length > 0, 'the program to start');
  controller.abort();
  await assert.rejects(running, (e) => isTracestreamError(e, 'RUN_CANCELLED'));
  assert.deepEqual(await leftovers(test_), { runDirs: [], processes: [] });
});

test('when the zygote dies mid-run the run ends as killed, and the next run gets a fresh zygote', async () => {
  const running = test_.pool.run({ source: 'import time\ntime.sleep(30)\n', limits: { wallTimeMs: 60_000 } });
  await until(async () => (await sandboxProcesses()).length > 0, 'the program to start');
  const [child] = await sandboxProcesses();
  const zygote = Number(/^PPid:\s+(\d+)/m.exec(await readFile(`/proc/${child}/status`, 'utf8'))![1]);
  process.kill(zygote, 'SIGKILL');
  const e = await running;
  assert.equal(e.outcome, 'killed');
  assert.match(e.reason, /^sandbox failure: the executor process exited \(SIGKILL\)/);
  const runs = await Promise.all([test_.pool.run({ source: 'print(1)\n' }), test_.pool.run({ source: 'print(2)\n' })]);
  assert.deepEqual(runs.map((r) => [r.outcome, r.stdout]), [['ok', '1\n'], ['ok', '2\n']]);
  assert.deepEqual(await leftovers(test_), { runDirs: [], processes: [] });
});

test('invalid limits are refused with INPUT_INVALID naming the limit', async () => {
  await assert.rejects(test_.pool.run({ source: 'pass\n', limits: { wallTimeMs: -1 } }), (e) =>
    isTracestreamError(e, 'INPUT_INVALID') && e.message.startsWith('limits.wallTimeMs:'));
});

test('close is idempotent, lets running runs finish and refuses new ones', async () => {
  const other = await startTestPool({ concurrency: 1, maxQueued: 1 });
  const running = other.pool.run({ source: 'import time\ntime.sleep(0.3)\nprint("done")\n' });
  const queued = other.pool.run({ source: 'print("never")\n' });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const closing = Promise.all([other.pool.close(), other.pool.close()]);
  await assert.rejects(queued, (e) => isTracestreamError(e, 'EXECUTOR_CLOSED'));
  assert.equal((await running).stdout, 'done\n');
  await closing;
  await assert.rejects(other.pool.run({ source: 'pass\n' }), (e) => isTracestreamError(e, 'EXECUTOR_CLOSED'));
  assert.deepEqual(await leftovers(other), { runDirs: [], processes: [] });
  await other.close();
});

test('a run waiting at the zygote behind a long program moves to the slot that frees first', async () => {
  const clock = 'import time\nprint(time.time())\n';
  const long = test_.pool.run({ source: `${clock}time.sleep(3)\nprint(time.time())\n` });
  const short = test_.pool.run({ source: `${clock}print(time.time())\n` });
  // Both slots busy: this run goes to the first slot's zygote, behind the long program.
  const behind = test_.pool.run({ source: `${clock}print(time.time())\n` });
  const [longRun, shortRun, behindRun] = await Promise.all([long, short, behind]);
  const times = (e: Execution) => e.stdout.trim().split('\n').map(Number);
  assert.deepEqual([longRun, shortRun, behindRun].map((e) => e.outcome), ['ok', 'ok', 'ok']);
  assert.ok(times(behindRun)[1]! < times(longRun)[1]!, 'it ran while the long program still ran, not after it');
  assert.ok(times(behindRun)[0]! >= times(shortRun)[1]!, 'on the slot the short program freed');
  assert.deepEqual(await leftovers(test_), { runDirs: [], processes: [] });
});

test('aborting a run waiting at a zygote drops it without running it', async () => {
  const long = test_.pool.run({ source: 'import time\ntime.sleep(0.6)\n' });
  const other = test_.pool.run({ source: 'import time\ntime.sleep(0.6)\n' });
  const controller = new AbortController();
  const waiting = test_.pool.run({ source: 'import os\nopen(os.environ["OUTPUT_PATH"], "w").write("ran")\n' }, { signal: controller.signal });
  // Given to a zygote at once (both slots busy, room behind them): let it reach the zygote.
  await new Promise((resolve) => setTimeout(resolve, 100));
  controller.abort();
  await assert.rejects(waiting, (e) => isTracestreamError(e, 'RUN_CANCELLED'));
  assert.deepEqual((await Promise.all([long, other])).map((e) => e.outcome), ['ok', 'ok']);
  assert.deepEqual(await leftovers(test_), { runDirs: [], processes: [] });
});

test('two pools on one host claim different uids, and one starting and closing never touches the other\'s runs', async () => {
  const sandboxUidBase = 61_500 + (process.pid % 100) * 8;
  const [first, second] = await Promise.all([
    startTestPool({ concurrency: 2, sandboxUidBase }),
    startTestPool({ concurrency: 2, sandboxUidBase }),
  ]);
  try {
    const uids = [...first.pool.sandboxUids, ...second.pool.sandboxUids];
    if (process.getuid?.() === 0) assert.equal(new Set(uids).size, 4, `claimed ${uids.join(', ')}`);
    const slow = first.pool.run({ source: 'import time\ntime.sleep(1.5)\nprint("survived")\n' });
    // The second pool runs, restarts a zygote (which sweeps the uid it claims) and closes while the first one's program runs.
    const runs = await Promise.all(Array.from({ length: 4 }, (_, n) => second.pool.run({ source: `print(${n})\n` })));
    assert.deepEqual(runs.map((e) => e.outcome), ['ok', 'ok', 'ok', 'ok']);
    await second.close();
    const third = await startTestPool({ concurrency: 2, sandboxUidBase });
    await third.close();
    const e = await slow;
    assert.equal(e.outcome, 'ok', e.reason);
    assert.equal(e.stdout, 'survived\n');
  } finally {
    await Promise.all([first.close(), second.close()]);
  }
});
