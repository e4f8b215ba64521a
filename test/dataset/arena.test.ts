import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteArena, ChunkPool } from '../../src/dataset/arena.js';

const bytes = (length: number, seed: number): Buffer => Buffer.from(Array.from({ length }, (_, i) => (i * 31 + seed) % 251));

test('an arena holds copies of the bytes given, each intact while later ones fill a chunk and go on in new ones', () => {
  const pool = new ChunkPool(64);
  const arena = new ByteArena(pool);
  const originals = Array.from({ length: 20 }, (_, i) => bytes(1 + (i % 16), i)); // 1..16 bytes: up to a quarter chunk
  const held = originals.map((original) => arena.hold(original));
  for (const original of originals) original.fill(0); // the caller reuses its bytes
  originals.forEach((_, i) => assert.deepEqual(held[i], bytes(1 + (i % 16), i), `value ${i}`));
  assert.ok(pool.chunksCreated > 1, `${pool.chunksCreated} chunks for ${held.reduce((n, h) => n + h.length, 0)} bytes`);
});

test('released chunks are reused by the same pool instead of new ones being made', () => {
  const pool = new ChunkPool(64);
  const arena = new ByteArena(pool);
  for (let i = 0; i < 10; i += 1) arena.hold(bytes(16, i));
  const made = pool.chunksCreated;
  arena.release();
  const other = new ByteArena(pool);
  for (let round = 0; round < 5; round += 1) {
    for (let i = 0; i < 10; i += 1) assert.deepEqual(other.hold(bytes(16, round + i)), bytes(16, round + i));
    other.release();
  }
  assert.equal(pool.chunksCreated, made);
});

test('a value larger than a quarter chunk is copied into a buffer of its own, not a chunk', () => {
  const pool = new ChunkPool(64);
  const arena = new ByteArena(pool);
  const large = bytes(17, 3);
  const held = arena.hold(large);
  large.fill(0);
  assert.deepEqual(held, bytes(17, 3));
  assert.equal(pool.chunksCreated, 0);
});

test('a pool keeps at most maxFreeChunks given back; the rest are left to the garbage collector', () => {
  const pool = new ChunkPool(64, 2);
  const arena = new ByteArena(pool);
  for (let i = 0; i < 16; i += 1) arena.hold(bytes(16, i)); // four chunks of four values
  assert.equal(pool.chunksCreated, 4);
  arena.release();
  for (let i = 0; i < 16; i += 1) arena.hold(bytes(16, i));
  assert.equal(pool.chunksCreated, 6, 'two chunks were kept for reuse, two more had to be made');
});
