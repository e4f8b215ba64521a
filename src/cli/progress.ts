/**
 * A one-line progress bar on a terminal (rate, MB/s when bytes are counted, and ETA), or a line every
 * few seconds when stderr is not a terminal, so logs stay readable.
 */
export class Progress {
  private done = 0;
  private bytes = 0;
  private readonly startedMs = Date.now();
  private lastDrawMs = 0;

  constructor(
    private readonly label: string,
    private total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly unit = '',
  ) {}

  advance(by = 1, bytes = 0): void {
    this.update(this.done + by, this.bytes + bytes);
  }

  /** Sets the counts (and the total, when it becomes known) instead of adding to them. */
  update(done: number, bytes = this.bytes, total = this.total): void {
    this.done = done;
    this.bytes = bytes;
    this.total = total;
    const now = Date.now();
    const interval = this.out.isTTY ? 100 : 5000;
    if (now - this.lastDrawMs >= interval || this.done >= this.total) {
      this.lastDrawMs = now;
      this.draw(now);
    }
  }

  finish(): void {
    this.draw(Date.now());
    if (this.out.isTTY) this.out.write('\n');
  }

  private draw(now: number): void {
    const seconds = Math.max((now - this.startedMs) / 1000, 1e-3);
    const rate = this.done / seconds;
    const remaining = rate > 0 ? (this.total - this.done) / rate : Infinity;
    const share = this.total > 0 ? Math.min(this.done / this.total, 1) : 1;
    const width = 30;
    const filled = Math.round(share * width);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
    const megabytes = this.bytes > 0 ? ` ${(this.bytes / 1e6 / seconds).toFixed(1)} MB/s` : '';
    const text = `${this.label} ${bar} ${this.done}/${this.total} ${(share * 100).toFixed(1)}% ${rate.toFixed(1)}${this.unit}/s${megabytes} ETA ${Number.isFinite(remaining) ? `${Math.ceil(remaining)}s` : '?'}`;
    this.out.write(this.out.isTTY ? `\r${text}` : `${text}\n`);
  }
}
