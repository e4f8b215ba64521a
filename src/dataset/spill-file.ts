import { open, rename, type FileHandle } from 'node:fs/promises';

/** A trace as replay keeps it between reading the topic and writing the dataset. */
export interface SpillEntry {
  /** UTF-8 bytes of the run id: entries sort by them. */
  runId: Buffer;
  producedAtMs: number;
  /** The record's value as it was on the topic (wire format: schema id + Avro). */
  value: Buffer;
}

/** An entry as a merge waits on it: its value only if it is small (see `SpillReader.nextHead`). */
export type SpillHead = Omit<SpillEntry, 'value'> & { value: Buffer | undefined };

/** A record replay could not use, kept in the manifest so that nothing is dropped silently. */
export interface SkippedRecord {
  topic: string;
  partition: number;
  offset: number;
  reason: string;
}

/** What one spill file covers: offsets `from`..`to` (inclusive) of one topic's partition. */
export interface SpillRange {
  topic: string;
  partition: number;
  from: number;
  to: number;
  /** Traces in the file. */
  entries: number;
  skipped: SkippedRecord[];
}

/** Writes all of `bytes` at `position`, or where the file is when none is given. */
export async function writeFully(file: FileHandle, bytes: Buffer, position?: number): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const { bytesWritten } = await file.write(bytes, written, bytes.length - written, position === undefined ? null : position + written);
    written += bytesWritten;
  }
}

/**
 * Reads from `position` into `target[from..]` until it holds at least `atLeast` bytes, as far as
 * the file goes (reading ahead into the rest of `target`). Returns the bytes `target` then holds
 * from 0; fewer than `atLeast` only at the file's end.
 */
export async function readFully(file: FileHandle, target: Buffer, position: number, from = 0, atLeast = target.length): Promise<number> {
  let end = from;
  while (end < atLeast) {
    const { bytesRead } = await file.read(target, end, target.length - end, position + end - from);
    if (bytesRead === 0) break;
    end += bytesRead;
  }
  return end;
}

/**
 * The `length` bytes at `position`, read into the start of `target` when it is long enough (a view
 * of it), else into a buffer of their own; undefined when the file ends before them.
 */
export async function readAt(file: FileHandle, position: number, length: number, target?: Buffer): Promise<Buffer | undefined> {
  const bytes = target !== undefined && target.length >= length ? target.subarray(0, length) : Buffer.allocUnsafe(length);
  return await readFully(file, bytes, position) < length ? undefined : bytes;
}

/** What a spill file's writer gathers before writing it out: one buffer, reused. */
const WRITE_BATCH_BYTES = 4 * 1024 * 1024;

/**
 * File layout: a 4-byte length and a JSON header (the range), then per entry: 4-byte run id
 * length, 8-byte producedAtMs, 4-byte value length, run id, value. All big-endian.
 *
 * Each entry is copied into one reused batch buffer (or, larger than it, written at once) before
 * the next is asked for, so `entries` may hand out views that its next entry overwrites, as a
 * merge's do (`mergeSpills`).
 */
export async function writeSpillFile(path: string, entries: Iterable<SpillEntry> | AsyncIterable<SpillEntry>, header: SpillRange | { merged: true }): Promise<void> {
  const temporary = `${path}.tmp`;
  const file = await open(temporary, 'w');
  try {
    const batch = Buffer.allocUnsafeSlow(WRITE_BATCH_BYTES);
    let used = 0;
    const put = async (bytes: Buffer): Promise<void> => {
      if (used + bytes.length > batch.length) {
        await writeFully(file, batch.subarray(0, used));
        used = 0;
      }
      if (bytes.length > batch.length) {
        await writeFully(file, bytes);
        return;
      }
      bytes.copy(batch, used);
      used += bytes.length;
    };
    const headerBytes = Buffer.from(JSON.stringify(header));
    await put(u32(headerBytes.length));
    await put(headerBytes);
    const fixed = Buffer.allocUnsafe(16);
    for await (const entry of entries) {
      fixed.writeUInt32BE(entry.runId.length, 0);
      fixed.writeDoubleBE(entry.producedAtMs, 4);
      fixed.writeUInt32BE(entry.value.length, 12);
      await put(fixed);
      await put(entry.runId);
      await put(entry.value);
    }
    await writeFully(file, batch.subarray(0, used));
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, path);
}

/**
 * An open spill file, read entry by entry through one reused buffer (256 KiB: a merge holds one
 * per file it reads at once). An entry that fits in the buffer is handed out as views of it, so
 * reading allocates nothing; a larger value is read on its own, when asked for (`nextHead`).
 *
 * Why views: a merge's entries used to be buffers of their own, each waiting at the head of its
 * file while V8 collected the young generation many times (every row group decoded is hundreds of
 * MiB of garbage), so they were promoted and freed only by a full collection: tens of MiB of dead
 * buffers in malloc's heap at any time (heaptrack, write phase of the dev corpus 8 times: 43 MiB
 * live in 777 such buffers at the peak).
 */
export class SpillReader {
  private readonly chunk: Buffer;
  /** Unread bytes are chunk[start, end). */
  private start = 0;
  private end = 0;
  private fileOffset = 0;
  /** Where the current entry's value is in the file, when `nextHead` left it there. */
  private largeValue: { position: number; length: number } | undefined;

  private constructor(private readonly file: FileHandle, chunkBytes: number) {
    this.chunk = Buffer.allocUnsafeSlow(chunkBytes);
  }

  static async open(path: string, chunkBytes = 256 * 1024): Promise<{ reader: SpillReader; header: SpillRange | { merged: true } }> {
    const reader = new SpillReader(await open(path, 'r'), chunkBytes);
    try {
      const length = (await reader.readOwned(4))!.readUInt32BE(0);
      const header = JSON.parse((await reader.readOwned(length))!.toString('utf8')) as SpillRange | { merged: true };
      return { reader, header };
    } catch (error) {
      await reader.close();
      throw error;
    }
  }

  /**
   * The next entry, or undefined at the end of the file. An entry that fits in the reader's buffer
   * is views of it, valid until the next call: whoever keeps an entry longer copies it. A larger
   * value is read into a buffer of its own.
   */
  async next(): Promise<SpillEntry | undefined> {
    const head = await this.nextHead();
    if (head === undefined) return undefined;
    return { runId: head.runId, producedAtMs: head.producedAtMs, value: head.value ?? await this.readLargeValue() };
  }

  /**
   * The next entry, or undefined at the end of the file, as `next` gives it, except that a value
   * larger than the reader's buffer is not read: it stays in the file (`value` undefined) until
   * `readLargeValue` is asked for it, so that a merge waiting on many files' entries holds their
   * keys, not their largest values.
   */
  async nextHead(): Promise<SpillHead | undefined> {
    this.largeValue = undefined;
    if (!await this.buffered(16)) return undefined;
    const runIdLength = this.chunk.readUInt32BE(this.start);
    const producedAtMs = this.chunk.readDoubleBE(this.start + 4);
    const valueLength = this.chunk.readUInt32BE(this.start + 12);
    const size = 16 + runIdLength + valueLength;
    if (size <= this.chunk.length) {
      // Cut files are caught by fill: 16 bytes are buffered, so an end before `size` is inside the entry.
      await this.buffered(size);
      const runIdAt = this.start + 16;
      const valueAt = runIdAt + runIdLength;
      this.start += size;
      return { runId: this.chunk.subarray(runIdAt, valueAt), producedAtMs, value: this.chunk.subarray(valueAt, valueAt + valueLength) };
    }
    this.start += 16;
    const runId = await this.readOwned(runIdLength);
    if (runId === undefined) throw new Error('spill file ends inside an entry');
    // Skip the value: what of it is buffered, then the rest in the file. chunk[start] is at fileOffset - (end - start).
    const buffered = Math.min(this.end - this.start, valueLength);
    this.largeValue = { position: this.fileOffset - (this.end - this.start), length: valueLength };
    this.start += buffered;
    this.fileOffset += valueLength - buffered;
    return { runId, producedAtMs, value: undefined };
  }

  /** The length of the value `nextHead` left in the file, or undefined when it gave its value. */
  get largeValueLength(): number | undefined {
    return this.largeValue?.length;
  }

  /**
   * The value `nextHead` left in the file, read into the start of `target` when it is long enough
   * (valid until `target` is reused), else into a buffer of its own. A cut file is an error here.
   */
  async readLargeValue(target?: Buffer): Promise<Buffer> {
    if (this.largeValue === undefined) throw new Error('the current spill entry has no value left in the file');
    const value = await readAt(this.file, this.largeValue.position, this.largeValue.length, target);
    if (value === undefined) throw new Error('spill file ends inside an entry');
    return value;
  }

  close(): Promise<void> {
    return this.file.close();
  }

  /** `length` bytes in a buffer of their own, or undefined at the end of the file. */
  private async readOwned(length: number): Promise<Buffer | undefined> {
    if (length <= this.chunk.length) {
      if (!await this.buffered(length)) return undefined;
      const bytes = Buffer.from(this.chunk.subarray(this.start, this.start + length));
      this.start += length;
      return bytes;
    }
    const bytes = Buffer.allocUnsafe(length);
    this.chunk.copy(bytes, 0, this.start, this.end);
    const held = this.end - this.start;
    this.start = this.end;
    return (await this.fill(bytes, held, length)).complete ? bytes : undefined;
  }

  /** Whether `length` (at most the chunk's size) bytes are buffered after refilling; false at the end of the file. */
  private async buffered(length: number): Promise<boolean> {
    if (this.end - this.start >= length) return true;
    this.chunk.copyWithin(0, this.start, this.end);
    this.end -= this.start;
    this.start = 0;
    const filled = await this.fill(this.chunk, this.end, length);
    this.end = filled.end;
    return filled.complete;
  }

  /**
   * Reads the file on into `target` from `from`, as far as its end allows (reading ahead), until it
   * holds at least `atLeast` bytes. Ending with nothing is the end of the file; ending part way is a
   * cut file, an error.
   */
  private async fill(target: Buffer, from: number, atLeast: number): Promise<{ complete: boolean; end: number }> {
    const end = await readFully(this.file, target, this.fileOffset, from, atLeast);
    this.fileOffset += end - from;
    if (end >= atLeast) return { complete: true, end };
    if (end === 0) return { complete: false, end };
    throw new Error('spill file ends inside an entry');
  }
}

function u32(value: number): Buffer {
  const bytes = Buffer.allocUnsafe(4);
  bytes.writeUInt32BE(value, 0);
  return bytes;
}
