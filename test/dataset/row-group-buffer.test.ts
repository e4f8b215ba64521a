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

test('every row group after a clear is copied into the same buffer', () => {
  const buffer = new RowGroupBuffer(64);
  const first = buffer.hold(bytes(40, 1));
  buffer.clear();
  for (let round = 0; round < 5; round += 1) {
    const held = [buffer.hold(bytes(30, round)), buffer.hold(bytes(30, round + 1))];
    assert.deepEqual(held, [bytes(30, round), bytes(30, round + 1)]);
    assert.ok(held.every((h) => h.buffer === first.buffer), `round ${round} reuses the buffer`);
    buffer.clear();
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
