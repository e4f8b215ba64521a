import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RowGroupBuffer } from '../../src/dataset/row-group-buffer.js';

const bytes = (length: number, seed: number): Buffer => Buffer.from(Array.from({ length }, (_, i) => (i * 31 + seed) % 251));

test('a row group buffer holds copies of the traces given, each intact after the caller reuses its bytes', () => {
  const buffer = new RowGroupBuffer(256);
  const originals = Array.from({ length: 20 }, (_, i) => bytes(1 + (i % 16), i));
  const held = originals.map((original) => buffer.hold(original));
  for (const original of originals) original.fill(0);
  originals.forEach((_, i) => assert.deepEqual(held[i], bytes(1 + (i % 16), i), `trace ${i}`));
  assert.ok(held.every((h) => h.buffer === held[0]!.buffer), 'all in one buffer');
});

test('every row group after a carry-over of nothing is copied into the same buffer', () => {
  const buffer = new RowGroupBuffer(64);
  const first = buffer.hold(bytes(40, 1));
  buffer.carryOver([]);
  for (let round = 0; round < 5; round += 1) {
    const held = [buffer.hold(bytes(30, round)), buffer.hold(bytes(30, round + 1))];
    assert.deepEqual(held, [bytes(30, round), bytes(30, round + 1)]);
    assert.ok(held.every((h) => h.buffer === first.buffer), `round ${round} reuses the buffer`);
    buffer.carryOver([]);
  }
});

test('a trace that does not fit in what is left gets a copy of its own, and the buffer does not grow', () => {
  const buffer = new RowGroupBuffer(64);
  const inBuffer = buffer.hold(bytes(50, 2));
  const large = bytes(20, 3);
  const own = buffer.hold(large);
  large.fill(0);
  assert.deepEqual(own, bytes(20, 3));
  assert.notEqual(own.buffer, inBuffer.buffer);
  assert.equal(inBuffer.buffer.byteLength, 64);
  assert.equal(buffer.hold(bytes(14, 4)).buffer, inBuffer.buffer, 'what still fits goes on in the buffer');
});

test('traces carried over to the next row group move to the buffer\'s beginning intact, in order, and what follows them is held after them', () => {
  const buffer = new RowGroupBuffer(100);
  const written = [buffer.hold(bytes(30, 1)), buffer.hold(bytes(25, 2))];
  const rest = [buffer.hold(bytes(20, 3)), buffer.hold(bytes(60, 4)), buffer.hold(bytes(15, 5))];
  assert.notEqual(rest[1]!.buffer, written[0]!.buffer, 'the 60-byte trace did not fit: a copy of its own');
  const kept = buffer.carryOver(rest);
  assert.deepEqual(kept, [bytes(20, 3), bytes(60, 4), bytes(15, 5)]);
  assert.equal(kept[0]!.byteOffset - written[0]!.byteOffset, 0, 'the first kept trace now starts the buffer');
  assert.equal(kept[2]!.byteOffset - written[0]!.byteOffset, 20, 'the next one in the buffer follows it');
  assert.equal(kept[1], rest[1], 'a copy of its own stays as it is');
  const next = buffer.hold(bytes(50, 6));
  assert.equal(next.byteOffset - written[0]!.byteOffset, 35);
  assert.deepEqual([...kept, next], [bytes(20, 3), bytes(60, 4), bytes(15, 5), bytes(50, 6)]);
});
