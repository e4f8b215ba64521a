import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeliveryReport, LibrdKafkaError } from '@confluentinc/kafka-javascript';
import { DeliveryTracker, newBatch } from '../../src/kafka/producer/deliveries.js';
import type { TracestreamError } from '../../src/errors/index.js';

/** Delivery reports as the client hands them over; the tracker reads topic, partition and offset. */
const report = (topic: string, partition: number, offset: number): DeliveryReport => ({ topic, partition, offset, size: 1 });
const failed = { code: -192, message: 'Local: Message timed out', isRetriable: false } as unknown as LibrdKafkaError;

function trackedBatch(records: number): { batch: ReturnType<typeof newBatch>; outcome: () => TracestreamError | undefined | 'pending' } {
  let outcome: TracestreamError | undefined | 'pending' = 'pending';
  const batch = newBatch(records, (failure) => { outcome = failure; });
  return { batch, outcome: () => outcome };
}

/** The failure a batch was settled with; fails the test if it is pending or succeeded. */
function failureOf(tracked: { outcome: () => TracestreamError | undefined | 'pending' }): TracestreamError {
  const failure = tracked.outcome();
  assert.ok(failure !== 'pending' && failure !== undefined, `settled with a failure, not ${String(failure)}`);
  return failure;
}

describe('DeliveryTracker', () => {
  it("settles a batch once each of its records was reported, matching a partition's reports to its records in produce order", () => {
    const tracker = new DeliveryTracker();
    const a = trackedBatch(2);
    const b = trackedBatch(2);
    tracker.produced('t', 0, a.batch);
    tracker.produced('t', 1, b.batch);
    tracker.produced('t', 0, b.batch);
    tracker.produced('t', 1, a.batch);
    tracker.report(null, report('t', 1, 10)); // b's record on partition 1
    tracker.report(null, report('t', 0, 5)); // a's record on partition 0
    assert.equal(a.outcome(), 'pending');
    assert.equal(b.outcome(), 'pending');
    tracker.report(null, report('t', 0, 6)); // b's record on partition 0
    assert.equal(b.outcome(), undefined);
    assert.equal(a.outcome(), 'pending');
    tracker.report(null, report('t', 1, 11));
    assert.equal(a.outcome(), undefined);
    assert.equal(tracker.inFlight, 0);
  });

  it('a failed report fails every batch in flight, and new records wait until the older reports have drained', () => {
    const tracker = new DeliveryTracker();
    const a = trackedBatch(1);
    const b = trackedBatch(2);
    tracker.produced('t', 0, a.batch);
    tracker.produced('t', 1, b.batch);
    tracker.produced('u', 0, b.batch);
    tracker.report(failed, report('t', 0, -1));
    for (const tracked of [a, b]) assert.equal(failureOf(tracked).code, 'KAFKA_DELIVERY_FAILED');
    assert.equal(tracker.accepting, false);
    let resumed = false;
    tracker.whenAccepting(() => { resumed = true; });
    tracker.report(null, report('t', 1, 3));
    assert.equal(resumed, false, 'one report of a record produced before the failure is still due');
    tracker.report(null, report('u', 0, 8));
    assert.equal(resumed, true);
    assert.equal(tracker.accepting, true);
    const c = trackedBatch(1);
    tracker.produced('t', 0, c.batch);
    tracker.report(null, report('t', 0, 4));
    assert.equal(c.outcome(), undefined);
  });

  it('a report whose offset does not grow on its partition fails the batches in flight instead of acking a record unreported', () => {
    const tracker = new DeliveryTracker();
    const a = trackedBatch(1);
    const b = trackedBatch(1);
    tracker.produced('t', 0, a.batch);
    tracker.produced('t', 0, b.batch);
    tracker.report(null, report('t', 0, 7));
    assert.equal(a.outcome(), undefined);
    tracker.report(null, report('t', 0, 7));
    const failure = failureOf(b);
    assert.equal(failure.code, 'KAFKA_DELIVERY_FAILED');
    assert.match(failure.message, /out of produce order/);
  });

  it('a report for a partition with nothing in flight is refused as out of order', () => {
    const tracker = new DeliveryTracker();
    const a = trackedBatch(1);
    tracker.produced('t', 0, a.batch);
    tracker.report(null, report('t', 2, 1));
    assert.match(failureOf(a).message, /out of produce order/);
  });
});
