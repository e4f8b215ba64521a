/** A handed-out record in its partition's window. */
export interface AckEntry {
  readonly offset: number;
  acked: boolean;
}

/**
 * The records of one partition that were handed out but cannot be committed yet, in offset order.
 * Kafka offsets are not dense (transaction markers, compaction), so "contiguous" means contiguous
 * in delivery order: the commit point only moves past a record once it and every record handed
 * out before it are acked. Its length is what `maxInFlightPerPartition` bounds: an acked record
 * still counts while an older one is pending, otherwise one stuck record would let the window
 * grow without limit.
 */
export class AckWindow {
  private readonly entries: AckEntry[] = [];
  private head = 0;
  private dropped = false;
  /** Next offset to commit (last contiguously acked offset + 1); undefined until one is acked. */
  private committable: number | undefined;
  private committed: number | undefined;

  /** Records handed out and not yet committable. */
  get size(): number {
    return this.entries.length - this.head;
  }

  /** Tracks a record that is being handed out; `ack` it once handled. */
  track(offset: number): AckEntry {
    const entry = { offset, acked: false };
    this.entries.push(entry);
    return entry;
  }

  /** Acks a tracked record; false when it was acked already or its partition was revoked since. */
  ack(entry: AckEntry): boolean {
    if (this.dropped || entry.acked) return false;
    entry.acked = true;
    this.advance();
    return true;
  }

  /** The offset to commit now, or undefined when nothing new became committable since the last commit. */
  pendingCommit(): number | undefined {
    if (this.committable === undefined || this.committable === this.committed) return undefined;
    return this.committable;
  }

  markCommitted(offset: number): void {
    if (this.committed === undefined || offset > this.committed) this.committed = offset;
  }

  /** After a revoke: every later ack is a no-op, the records go to the partition's next owner. */
  drop(): void {
    this.dropped = true;
    this.entries.length = 0;
    this.head = 0;
  }

  private advance(): void {
    while (this.head < this.entries.length && this.entries[this.head]!.acked) {
      this.committable = this.entries[this.head]!.offset + 1;
      this.head++;
    }
    // Compact once the consumed prefix dominates, so the array stays O(window) without shifting per ack.
    if (this.head > 64 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }
}
