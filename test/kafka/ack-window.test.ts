import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AckWindow, type AckEntry } from '../../src/kafka/consumer/ack-window.js';

/** Tracks `count` records from `first` on, in offset order. */
function handOut(window: AckWindow, first: number, count: number): AckEntry[] {
  return Array.from({ length: count }, (_, index) => window.track(first + index));
}

test('records acked behind a slow one no longer count against the window', () => {
  const window = new AckWindow();
  const [slow, ...rest] = handOut(window, 100, 1_000);
  for (const entry of rest) window.ack(entry);
  assert.equal(window.inFlight, 1, 'only the slow record is in flight');
  window.ack(slow!);
  assert.equal(window.inFlight, 0);
});

test('the commit point stays at the oldest unacked record, whatever was acked after it', () => {
  const window = new AckWindow();
  const entries = handOut(window, 100, 10);
  for (const entry of entries.slice(3)) window.ack(entry);
  assert.equal(window.pendingCommit(), undefined, 'nothing before the first unacked record was acked: no progress to commit');
  window.ack(entries[0]!);
  assert.equal(window.pendingCommit(), 101, 'the next record to read is the oldest unacked one');
  window.markCommitted(101);
  assert.equal(window.pendingCommit(), undefined);
  window.ack(entries[2]!);
  assert.equal(window.pendingCommit(), undefined, 'offset 101 is still unacked');
  window.ack(entries[1]!);
  assert.equal(window.pendingCommit(), 110, 'all acked: past the newest handed-out record');
});

test('offsets with gaps (transaction markers) commit up to the oldest unacked offset', () => {
  const window = new AckWindow();
  const [a, b, c] = [window.track(10), window.track(12), window.track(15)];
  window.ack(a!);
  window.ack(c!);
  assert.equal(window.pendingCommit(), 12);
  window.ack(b!);
  assert.equal(window.pendingCommit(), 16);
});

test('the window keeps only about twice its unacked records while one stays unacked', () => {
  const window = new AckWindow();
  const slow = window.track(0);
  let next = 1;
  for (let round = 0; round < 1_000; round++) {
    for (const entry of handOut(window, next, 100)) window.ack(entry);
    next += 100;
    assert.ok(window.retained <= 2 * window.inFlight + 65, `${window.retained} entries held for ${window.inFlight} unacked`);
  }
  assert.equal(window.pendingCommit(), undefined, '100,000 acks behind the slow record commit nothing');
  window.ack(slow);
  assert.equal(window.pendingCommit(), next);
});

test('an ack after a revoke, or a second ack, changes nothing', () => {
  const window = new AckWindow();
  const [a, b] = handOut(window, 0, 2);
  assert.equal(window.ack(a!), true);
  assert.equal(window.ack(a!), false);
  assert.equal(window.inFlight, 1);
  window.drop();
  assert.equal(window.ack(b!), false);
  assert.equal(window.inFlight, 0);
});
