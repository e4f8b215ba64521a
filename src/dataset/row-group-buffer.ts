/**
 * Where a split's row group keeps its traces until it is written: copies in one buffer, allocated
 * with the first trace and reused by every row group after, so the write phase holds the same
 * bytes for its traces whatever the topic's size or the order its traces come in.
 *
 * Why copies: the traces a merge hands out are views of its readers' buffers, valid only until the
 * next one (`mergeSpills`). Why one buffer: a tenth of the dev corpus' traces hold nine tenths of its
 * bytes (46 of 2,746 over 256 KiB, up to 4 MB), so a row group is mostly a few large traces; copied
 * into buffers of their own, they were promoted while their row group filled and freed only by a
 * full collection, so how many dead ones were waiting depended on how the large traces fell (README
 * "Benchmarks", replay).
 */
export class RowGroupBuffer {
  private bytes: Buffer | undefined;
  private used = 0;

  /**
   * `capacity`: the row group's bytes and the largest trace expected on top of them (a row group is
   * written once it reaches its size, so it holds at most that size and one trace more). A trace
   * that does not fit in what is left gets a copy of its own.
   */
  constructor(private readonly capacity: number) {}

  /** A copy of `trace`, valid until `clear()`; whoever holds it must not use it after that. */
  hold(trace: Uint8Array): Buffer {
    if (this.used + trace.length > this.capacity) return Buffer.from(trace);
    // Slow (unpooled): a buffer of its own, never a slice of Node's shared pool.
    this.bytes ??= Buffer.allocUnsafeSlow(this.capacity);
    const start = this.used;
    this.bytes.set(trace, start);
    this.used += trace.length;
    return this.bytes.subarray(start, this.used);
  }

  /** Starts the next row group at the buffer's beginning; what `hold` returned must no longer be used. */
  clear(): void {
    this.used = 0;
  }
}
