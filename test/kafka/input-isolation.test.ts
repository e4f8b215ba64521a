import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TracestreamError } from '../../src/errors/index.js';
import { isolateInputs, type ConsumedRecord, type OutgoingRecord } from '../../src/kafka/index.js';

const record: ConsumedRecord = { topic: 'in', partition: 0, offset: '1', key: null, value: Buffer.from('x'), headers: {}, timestampMs: 0, ack() {} };
const letters: { reason: string; error: unknown }[] = [];
const deadLetter = (_record: ConsumedRecord, reason: string, error: unknown): OutgoingRecord[] => {
  letters.push({ reason, error });
  return [{ topic: 'dlq', key: null, value: Buffer.from(reason) }];
};
const fast = { retryInitialDelayMs: 1, retryMaxDelayMs: 4, retryForMs: 200 };

test('an input fault (its events fail the schema, a bug it alone triggers) becomes its dead letter with the reason', async () => {
  letters.length = 0;
  for (const error of [new TracestreamError('INPUT_INVALID', 'ExecutionTrace does not match its schema at steps.0.line'), new TypeError('boom')]) {
    const out = await isolateInputs(() => Promise.reject(error), deadLetter, fast)(record);
    assert.equal(out[0]!.topic, 'dlq');
  }
  assert.deepEqual(letters.map((l) => l.reason), [
    'TracestreamError: ExecutionTrace does not match its schema at steps.0.line', 'TypeError: boom',
  ]);
});

test('a retriable infrastructure fault is retried with backoff and the input goes through once it clears', async () => {
  let tries = 0;
  const out = await isolateInputs(async () => {
    tries++;
    if (tries < 3) throw new TracestreamError('SCHEMA_REGISTRY_UNAVAILABLE', 'registry down', { retriable: true });
    return [{ topic: 'out', key: null, value: null }];
  }, deadLetter, fast)(record);
  assert.equal(tries, 3);
  assert.equal(out[0]!.topic, 'out');
});

test('a retriable fault that outlasts retryForMs, or a fatal infrastructure fault, stops the topology (rejects)', async () => {
  let tries = 0;
  const registryDown = new TracestreamError('SCHEMA_REGISTRY_UNAVAILABLE', 'registry down', { retriable: true });
  await assert.rejects(isolateInputs(async () => {
    tries++;
    throw registryDown;
  }, deadLetter, fast)(record), registryDown);
  assert.ok(tries > 3);
  const closed = new TracestreamError('EXECUTOR_CLOSED', 'closed');
  await assert.rejects(isolateInputs(() => Promise.reject(closed), deadLetter, fast)(record), closed);
});
