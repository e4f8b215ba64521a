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

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('records with the same key run one after another in arrival order, other keys run alongside', async () => {
  const log: string[] = [];
  const task = serializeByKey(async (r) => {
    log.push(`start ${r.key?.toString() ?? '-'}${r.offset}`);
    await delay(r.offset === '0' ? 30 : 5);
    log.push(`end ${r.key?.toString() ?? '-'}${r.offset}`);
    return r.offset;
  });
  const results = await Promise.all([task(record('a', 0)), task(record('b', 1)), task(record('a', 2)), task(record(null, 3))]);
  assert.deepEqual(results, ['0', '1', '2', '3']);
  assert.ok(log.indexOf('end a0') < log.indexOf('start a2'), log.join(', '));
  assert.ok(log.indexOf('start b1') < log.indexOf('end a0'), 'another key does not wait');
  assert.ok(log.indexOf('start -3') < log.indexOf('end a0'), 'keyless records do not wait');
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
