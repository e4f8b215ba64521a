/** A handed-out record in its partition's window. */
export interface AckEntry {
  readonly offset: number;
  acked: boolean;
}

/**
 * The records of one partition that were handed out and not yet acked, in offset order, and the
 * offset that may be committed because of them: the oldest unacked record's (the next one to read
 * after a crash), or past the newest handed-out record once all are acked. Acks may come in any
 * order; the commit point still only moves forward in order, so at-least-once holds.
 *
 * Only unacked records count against `maxInFlightPerPartition` (`inFlight`): a solution that runs
 * for seconds must not stop the thousands of records behind it that are handled at once (dead
 * letters). The records acked behind an older unacked one are not kept: the window holds at most
 * about twice `inFlight` entries, so its memory stays bounded by the unacked records too.
 */
export class AckWindow {
  /** Handed out, in offset order; acked ones are dropped lazily (see compact). */
  private entries: AckEntry[] = [];
  /** Index of the oldest entry that may be unacked; the ones before it are acked. */
  private head = 0;
  private unacked = 0;
  private dropped = false;
  /** Offset of the first record handed out: committing it would be no progress. */
  private first: number | undefined;
  private newest: number | undefined;
  /** Next offset to commit (the oldest unacked offset, or past the newest); undefined until one is acked. */
  private committable: number | undefined;
  private committed: number | undefined;

  /** Records handed out and not yet acked: what `maxInFlightPerPartition` bounds. */
  get inFlight(): number {
    return this.unacked;
  }

  /** Entries the window holds (the unacked ones and acked ones not dropped yet): at most about 2 × inFlight + 64. */
  get retained(): number {
    return this.entries.length;
  }

  /** Tracks a record that is being handed out (in offset order); `ack` it once handled. */
  track(offset: number): AckEntry {
    const entry = { offset, acked: false };
    this.entries.push(entry);
    this.unacked++;
    this.first ??= offset;
    this.newest = offset;
    return entry;
  }

  /** Acks a tracked record; false when it was acked already or its partition was revoked since. */
  ack(entry: AckEntry): boolean {
    if (this.dropped || entry.acked) return false;
    entry.acked = true;
    this.unacked--;
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
    this.entries = [];
    this.head = 0;
    this.unacked = 0;
  }

  private advance(): void {
    while (this.head < this.entries.length && this.entries[this.head]!.acked) this.head++;
    const next = this.head < this.entries.length ? this.entries[this.head]!.offset : this.newest! + 1;
    if (next > this.first! && (this.committable === undefined || next > this.committable)) this.committable = next;
    // Drop the acked entries once they are most of the array: each compaction is paid for by the
    // acks that made it due, and the array stays within about twice the unacked records.
    const acked = this.entries.length - this.unacked;
    if (acked > 64 && acked > this.unacked) {
      this.entries = this.entries.filter((entry) => !entry.acked);
      this.head = 0;
    }
  }
}
