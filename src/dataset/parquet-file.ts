import { closeSync, openSync, writeSync } from 'node:fs';
import { ByteWriter, type Writer } from 'hyparquet-writer';

/** What a file gathers of the writer's small appends (headers, levels, footer) before writing them. */
const GATHER_BYTES = 64 * 1024;

/**
 * hyparquet-writer's `Writer` over a file, holding at most GATHER_BYTES of it in memory. The
 * library's own `fileWriter` keeps one buffer that doubles to fit its largest write (a compressed
 * page), is written out only once past 1 MB and never shrinks: a replay keeps one such buffer per
 * open shard, and they grew with the shards. Here a page goes to the file as it comes, and the
 * small appends between pages are gathered in a buffer of fixed size.
 */
export class ParquetFile extends ByteWriter implements Writer {
  private readonly fd: number;
  private closed = false;

  constructor(path: string) {
    super(GATHER_BYTES);
    this.fd = openSync(path, 'w');
  }

  /** Makes room for `size` bytes; only appendBytes (overridden) may append more than the buffer holds. */
  override ensure(size: number): void {
    if (this.index + size > this.buffer.byteLength) this.writeGathered();
  }

  override appendBytes(value: Uint8Array): void {
    if (value.length <= GATHER_BYTES / 4) {
      super.appendBytes(value);
      return;
    }
    this.writeGathered();
    writeFully(this.fd, value);
    this.offset += value.length;
  }

  /** Called by ParquetWriter after each row group: the row group is on disk once it returns. */
  flush(): void {
    this.writeGathered();
  }

  override finish(): void {
    this.close();
  }

  /** Writes what is gathered and closes the file; a second call does nothing. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.writeGathered();
    } finally {
      closeSync(this.fd);
    }
  }

  override getBuffer(): ArrayBuffer {
    throw new Error('a ParquetFile holds no whole buffer: its bytes are in the file');
  }

  override getBytes(): Uint8Array<ArrayBuffer> {
    throw new Error('a ParquetFile holds no whole buffer: its bytes are in the file');
  }

  private writeGathered(): void {
    if (this.index === 0) return;
    writeFully(this.fd, new Uint8Array(this.buffer, 0, this.index));
    this.index = 0;
  }
}

function writeFully(fd: number, bytes: Uint8Array): void {
  for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written, bytes.length - written);
}
