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
   * `capacity`: the most bytes a row group holds (a trace larger than that is a row group of its
   * own). A trace that does not fit in what is left gets a copy of its own.
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

  /**
   * Starts the next row group with `kept`, traces `hold` returned for this one, in the order it
   * returned them: moved to the buffer's beginning. Returns them as they are now held; nothing else
   * `hold` returned may be used afterwards.
   */
  carryOver(kept: readonly Buffer[]): Buffer[] {
    this.used = 0;
    const bytes = this.bytes;
    return kept.map((trace) => {
      if (bytes === undefined || trace.buffer !== bytes.buffer) return trace;
      // Each lands at or before where it was, and after the one moved before it: memmove's order.
      const from = trace.byteOffset - bytes.byteOffset;
      const start = this.used;
      bytes.copyWithin(start, from, from + trace.length);
      this.used += trace.length;
      return bytes.subarray(start, this.used);
    });
  }
}
