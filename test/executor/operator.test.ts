import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { firstValueFrom, from, Subject, toArray } from 'rxjs';
import { isTracestreamError } from '../../src/errors/index.js';
import { executeWith } from '../../src/executor/index.js';
import { type Execution, type ExecutionRequest } from '../../src/runs/index.js';
import { processesOfUid } from '../../src/executor/sweep.js';
import { leftovers, startTestPool, type TestPool } from './helpers.js';

let test_: TestPool;
before(async () => {
  test_ = await startTestPool({ concurrency: 2, maxQueued: 1 });
});
after(async () => {
  await test_.close();
});

test('executeWith maps every request to its execution without overrunning the pool', async () => {
  const requests = Array.from({ length: 7 }, (_, i) => ({ runId: `r${i}`, source: `print(${i} * ${i})\n` }));
  // 7 requests at once into a pool that takes 3: a refusal (EXECUTOR_SATURATED) would error the stream.
  const executions = await firstValueFrom(from(requests).pipe(executeWith(test_.pool), toArray()));
  assert.deepEqual(executions.map((e) => `${e.runId}:${e.stdout}`).sort(), requests.map((r, i) => `${r.runId}:${i * i}\n`).sort());
});

test('executeWith refuses a concurrency above what the pool can hold', () => {
  assert.throws(() => executeWith(test_.pool, { concurrency: 4 }), (e) => isTracestreamError(e, 'CONFIG_INVALID'));
});

test('unsubscribing cancels the runs in flight: processes killed, run dirs removed', async () => {
  const requests = new Subject<ExecutionRequest>();
  const seen: Execution[] = [];
  const subscription = requests.pipe(executeWith(test_.pool, { concurrency: 2 })).subscribe((e) => seen.push(e));
  const loop = { source: 'while True:\n    pass\n', limits: { wallTimeMs: 60_000, cpuTimeMs: 60_000, maxSteps: 0 } };
  requests.next(loop);
  requests.next(loop);
  const deadline = Date.now() + 15_000;
  const running = async () => (await Promise.all(test_.pool.sandboxUids.map(processesOfUid))).flat().length;
  while ((await running()) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await running(), 2);
  subscription.unsubscribe();
  while (((await leftovers(test_)).runDirs.length > 0 || (await running()) > 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.deepEqual(await leftovers(test_), { runDirs: [], processes: [] });
  assert.deepEqual(seen, []);
});
