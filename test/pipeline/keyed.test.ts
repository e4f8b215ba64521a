import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConsumedRecord } from '../../src/kafka/index.js';
import { serializeByKey } from '../../src/pipeline/index.js';

function record(key: string | null, offset: number): ConsumedRecord {
  return {
    topic: 't', partition: 0, offset: String(offset), key: key === null ? null : Buffer.from(key), value: null,
    headers: {}, timestampMs: 0, ack: () => undefined,
  };
}

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => { open = resolve; });
  return { opened, open };
}

test('records with the same key run one after another in arrival order, other keys run alongside', async () => {
  const log: string[] = [];
  // a0 holds its key until the test opens this gate; the others wait for nothing.
  const a0Done = gate();
  const othersStarted = gate();
  const task = serializeByKey(async (r) => {
    const name = `${r.key?.toString() ?? '-'}${r.offset}`;
    log.push(`start ${name}`);
    if (log.includes('start b1') && log.includes('start -3')) othersStarted.open();
    if (name === 'a0') await a0Done.opened;
    log.push(`end ${name}`);
    return r.offset;
  });
  const all = Promise.all([task(record('a', 0)), task(record('b', 1)), task(record('a', 2)), task(record(null, 3))]);
  // Waits for an event, not for time: b1 and the keyless record start while a0 still holds key a.
  await othersStarted.opened;
  assert.ok(!log.includes('start a2'), `a2 waits for a0: ${log.join(', ')}`);
  a0Done.open();
  assert.deepEqual(await all, ['0', '1', '2', '3']);
  assert.ok(log.indexOf('end a0') < log.indexOf('start a2'), log.join(', '));
});

test('a failed task does not block the next one with its key, and its error reaches its caller', async () => {
  const task = serializeByKey(async (r) => {
    if (r.offset === '0') throw new Error('boom');
    return r.offset;
  });
  const [first, second] = await Promise.allSettled([task(record('a', 0)), task(record('a', 1))]);
  assert.equal(first.status, 'rejected');
  assert.deepEqual(second, { status: 'fulfilled', value: '1' });
});
