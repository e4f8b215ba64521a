import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TracestreamError } from '../../src/errors/index.js';
import { watchCluster } from '../../src/kafka/consumer/cluster-watch.js';

/** A probe that answers as `answers` says, in turn (true: a broker answered), then as the last one. */
function scriptedProbe(answers: readonly boolean[]): { probe(): Promise<void>; calls: number } {
  const state = {
    calls: 0,
    probe(): Promise<void> {
      const up = answers[Math.min(state.calls, answers.length - 1)]!;
      state.calls++;
      return up ? Promise.resolve() : Promise.reject(new Error('connection refused'));
    },
  };
  return state;
}

test('a cluster that stops answering is unreachable at once, probed again with backoff, then lost with KAFKA_DISCONNECTED', async () => {
  const probe = scriptedProbe([true, false]);
  const changes: boolean[] = [];
  let stop = (): void => undefined;
  const lost = await new Promise<TracestreamError>((resolve) => {
    stop = watchCluster({ probe: probe.probe, intervalMs: 20, downTimeoutMs: 600, onReachable: (up) => changes.push(up), onLost: resolve });
  });
  stop();
  assert.equal(lost.code, 'KAFKA_DISCONNECTED');
  assert.match(lost.message, /connection refused/);
  assert.deepEqual(changes, [false], 'unreachable once, never back');
  assert.ok(probe.calls >= 3, `retried before giving up (${probe.calls} probes)`);
});

test('a cluster that answers again is reachable again and never lost', async () => {
  const probe = scriptedProbe([false, false, true]);
  let lost: TracestreamError | undefined;
  const changes: boolean[] = [];
  let stop = (): void => undefined;
  await new Promise<void>((resolve) => {
    stop = watchCluster({
      probe: probe.probe, intervalMs: 20, downTimeoutMs: 60_000,
      onReachable: (up) => {
        changes.push(up);
        if (up) resolve();
      },
      onLost: (error) => { lost = error; },
    });
  });
  stop();
  assert.deepEqual(changes, [false, true]);
  assert.equal(lost, undefined);
});

test('a stopped watch probes no more', async () => {
  const probe = scriptedProbe([false]);
  const stop = watchCluster({ probe: probe.probe, intervalMs: 10, downTimeoutMs: 60_000, onReachable: () => undefined, onLost: () => undefined });
  stop();
  // Not a timing assertion: whatever the delay, a stopped watch must have made no call at all.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(probe.calls, 0);
});
