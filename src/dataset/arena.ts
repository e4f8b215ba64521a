/**
 * Where a split's row group keeps its traces until it is written: copied into an `ByteArena`, whose
 * chunks come from a `ChunkPool` shared by the replay's splits and go back to it when the row group
 * is written, so that the same few chunks are used over and over.
 *
 * Why copies: the traces a merge hands out are views of its readers' buffers, valid only until the
 * next one (`mergeSpills`). And buffers of their own, one per trace, held for a row group while V8
 * collects its young generation many times, are promoted and then freed only by a full collection:
 * dead buffers pile up in malloc's heap (README "Benchmarks", replay).
 */

/** Chunks handed out to arenas and given back by them, kept for the next arena instead of freed. */
export class ChunkPool {
  private readonly free: Buffer[] = [];
  private created = 0;

  /**
   * `chunkBytes`: every chunk's size. `maxFreeChunks`: chunks kept for reuse at most; one given back
   * beyond them is left to the garbage collector, so a burst does not stay held.
   */
  constructor(readonly chunkBytes: number = 1024 * 1024, private readonly maxFreeChunks: number = 32) {}

  take(): Buffer {
    const chunk = this.free.pop();
    if (chunk !== undefined) return chunk;
    this.created += 1;
    // Slow (unpooled) buffers: a chunk is its own allocation, never a slice of Node's shared pool.
    return Buffer.allocUnsafeSlow(this.chunkBytes);
  }

  give(chunks: readonly Buffer[]): void {
    for (const chunk of chunks) {
      if (this.free.length < this.maxFreeChunks) this.free.push(chunk);
    }
  }

  /** Chunks made so far (reused ones are not counted again). */
  get chunksCreated(): number {
    return this.created;
  }
}

/**
 * Copies of bytes, in chunks from a `ChunkPool`, released together. A value larger than a quarter of
 * a chunk gets a buffer of its own instead (it would waste most of a chunk): few traces are that
 * large.
 */
export class ByteArena {
  private readonly chunks: Buffer[] = [];
  private current: Buffer | undefined;
  private used = 0;

  constructor(private readonly pool: ChunkPool) {}

  /** A copy of `bytes`, valid until `release()`; whoever holds it must not use it after that. */
  hold(bytes: Uint8Array): Buffer {
    if (bytes.length > this.pool.chunkBytes / 4) return Buffer.from(bytes);
    if (this.current === undefined || this.used + bytes.length > this.current.length) {
      this.current = this.pool.take();
      this.chunks.push(this.current);
      this.used = 0;
    }
    const start = this.used;
    this.current.set(bytes, start);
    this.used += bytes.length;
    return this.current.subarray(start, this.used);
  }

  /** Gives every chunk back to the pool; what `hold` returned must no longer be used. */
  release(): void {
    this.pool.give(this.chunks.splice(0));
    this.current = undefined;
    this.used = 0;
  }
}
