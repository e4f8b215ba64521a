import { open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { partitionKey } from './scan.js';

/** A trace as replay keeps it between reading the topic and writing the dataset. */
export interface SpillEntry {
  /** UTF-8 bytes of the run id: entries sort by them. */
  runId: Buffer;
  producedAtMs: number;
  /** The record's value as it was on the topic (wire format: schema id + Avro). */
  value: Buffer;
}

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

/**
 * The order of the dataset and the rule that picks one trace per run id: by run id (its UTF-8
 * bytes), then the latest produced first (`producedAtMs`, what a re-run after a crash carries),
 * then by the record's bytes, larger first, so that even two traces produced in the same
 * millisecond have one winner that depends on their content alone, never on partitions, offsets
 * or which arrived first.
 */
export function compareEntries(a: SpillEntry, b: SpillEntry): number {
  return Buffer.compare(a.runId, b.runId) || b.producedAtMs - a.producedAtMs || Buffer.compare(b.value, a.value);
}

const RANGE_FILE = /^([a-zA-Z0-9._-]+@p\d+)-(\d+)-(\d+)\.run$/;

/**
 * `<topic>@p<partition>-<from>-<to>.run`, as Kafka Connect's S3 sink names objects (topic,
 * partition, first offset): writing the same range again gives the same name.
 */
function spillFileName(range: Pick<SpillRange, 'topic' | 'partition' | 'from' | 'to'>): string {
  return `${partitionKey(range.topic, range.partition)}-${range.from}-${range.to}.run`;
}

/**
 * Sorted runs of topics' traces on disk, one file per partition range. Memory holds at most
 * `budgetBytes` of record values (plus one record): past it the partition holding the most is
 * sorted and written out. A file is written under a temporary name and renamed once complete, so
 * after a crash every `.run` file is whole and the offsets it covers need not be read again.
 */
export class SpillWriter {
  /** By `partitionKey`. */
  private readonly buffers = new Map<string, PartitionBuffer>();
  private bufferedBytes = 0;

  constructor(private readonly dir: string, private readonly budgetBytes: number) {}

  /** Starts a partition's next range at `offset` (where the topic is read from). */
  startPartition(topic: string, partition: number, offset: number): void {
    this.buffers.set(partitionKey(topic, partition), { topic, partition, from: offset, last: offset - 1, entries: [], bytes: 0, skipped: [] });
  }

  /** Adds the record at `offset`: a trace (`entry`), or one that is skipped and why. */
  async add(topic: string, partition: number, offset: number, entry: SpillEntry | { skipped: string }): Promise<void> {
    const buffer = this.buffers.get(partitionKey(topic, partition));
    if (buffer === undefined) throw new Error(`partition ${partition} of ${topic} was not started`);
    buffer.last = offset;
    if ('skipped' in entry) {
      buffer.skipped.push({ topic, partition, offset, reason: entry.skipped });
      return;
    }
    buffer.entries.push(entry);
    const bytes = entry.value.length + entry.runId.length + 64;
    buffer.bytes += bytes;
    this.bufferedBytes += bytes;
    if (this.bufferedBytes > this.budgetBytes) await this.flushLargest();
  }

  /** Writes every partition's pending range. */
  async flush(): Promise<void> {
    for (const key of this.buffers.keys()) await this.flushPartition(key);
  }

  private async flushLargest(): Promise<void> {
    let largest: string | undefined;
    let bytes = -1;
    for (const [key, buffer] of this.buffers) {
      if (buffer.bytes > bytes) {
        largest = key;
        bytes = buffer.bytes;
      }
    }
    if (largest !== undefined) await this.flushPartition(largest);
  }

  private async flushPartition(key: string): Promise<void> {
    const buffer = this.buffers.get(key)!;
    if (buffer.last < buffer.from) return;
    buffer.entries.sort(compareEntries);
    const { topic, partition } = buffer;
    await writeSpillFile(join(this.dir, spillFileName({ topic, partition, from: buffer.from, to: buffer.last })), buffer.entries, {
      topic, partition, from: buffer.from, to: buffer.last, entries: buffer.entries.length, skipped: buffer.skipped,
    });
    this.bufferedBytes -= buffer.bytes;
    this.buffers.set(key, { topic, partition, from: buffer.last + 1, last: buffer.last, entries: [], bytes: 0, skipped: [] });
  }
}

interface PartitionBuffer {
  topic: string;
  partition: number;
  from: number;
  last: number;
  entries: SpillEntry[];
  bytes: number;
  skipped: SkippedRecord[];
}

/** Bytes of entries gathered before one `writev` (besides at most 510 pieces: the system's IOV_MAX is 1024). */
const WRITE_BATCH_BYTES = 4 * 1024 * 1024;

/**
 * File layout: a 4-byte length and a JSON header (the range), then per entry: 4-byte run id
 * length, run id, 8-byte producedAtMs, 4-byte value length, value. All big-endian.
 */
export async function writeSpillFile(path: string, entries: Iterable<SpillEntry> | AsyncIterable<SpillEntry>, header: SpillRange | { merged: true }): Promise<void> {
  const temporary = `${path}.tmp`;
  const file = await open(temporary, 'w');
  try {
    const headerBytes = Buffer.from(JSON.stringify(header));
    const pieces: Buffer[] = [u32(headerBytes.length), headerBytes];
    let pendingBytes = 0;
    for await (const entry of entries) {
      const fixed = Buffer.allocUnsafe(16);
      fixed.writeUInt32BE(entry.runId.length, 0);
      fixed.writeDoubleBE(entry.producedAtMs, 4);
      fixed.writeUInt32BE(entry.value.length, 12);
      pieces.push(fixed, entry.runId, entry.value);
      pendingBytes += entry.value.length;
      // A merge's entries are copies held only here: written out by bytes too, so large traces do not pile up.
      if (pieces.length >= 510 || pendingBytes >= WRITE_BATCH_BYTES) {
        await file.writev(pieces.splice(0));
        pendingBytes = 0;
      }
    }
    if (pieces.length > 0) await file.writev(pieces);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, path);
}

/**
 * An open spill file, read entry by entry through one reused buffer (64 KiB: a merge holds one per
 * file it reads at once). The only allocations are the entries themselves: a value larger than the
 * buffer is read from the file straight into its own, so a merge's garbage is what it yields.
 */
export class SpillReader {
  private readonly chunk: Buffer;
  /** Unread bytes are chunk[start, end). */
  private start = 0;
  private end = 0;
  private fileOffset = 0;

  private constructor(private readonly file: Awaited<ReturnType<typeof open>>, chunkBytes: number) {
    this.chunk = Buffer.allocUnsafeSlow(chunkBytes);
  }

  static async open(path: string, chunkBytes = 64 * 1024): Promise<{ reader: SpillReader; header: SpillRange | { merged: true } }> {
    const reader = new SpillReader(await open(path, 'r'), chunkBytes);
    try {
      const length = (await reader.read(4))!.readUInt32BE(0);
      const header = JSON.parse((await reader.read(length))!.toString('utf8')) as SpillRange | { merged: true };
      return { reader, header };
    } catch (error) {
      await reader.close();
      throw error;
    }
  }

  async next(): Promise<SpillEntry | undefined> {
    if (!await this.buffered(16)) return undefined;
    const runIdLength = this.chunk.readUInt32BE(this.start);
    const producedAtMs = this.chunk.readDoubleBE(this.start + 4);
    const valueLength = this.chunk.readUInt32BE(this.start + 12);
    this.start += 16;
    const runId = await this.read(runIdLength);
    const value = await this.read(valueLength);
    if (runId === undefined || value === undefined) throw new Error('spill file ends inside an entry');
    return { runId, producedAtMs, value };
  }

  close(): Promise<void> {
    return this.file.close();
  }

  /** `length` bytes in a buffer of their own, or undefined at the end of the file. */
  private async read(length: number): Promise<Buffer | undefined> {
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
    let end = from;
    while (end < atLeast) {
      const { bytesRead } = await this.file.read(target, end, target.length - end, this.fileOffset);
      if (bytesRead === 0) break;
      this.fileOffset += bytesRead;
      end += bytesRead;
    }
    if (end >= atLeast) return { complete: true, end };
    if (end === 0) return { complete: false, end };
    throw new Error('spill file ends inside an entry');
  }
}

/**
 * The whole spill files in `dir` and, per partition (by `partitionKey`), the offset where reading
 * resumes: the end of the unbroken chain of ranges from `startOffsets`. Leftover temporary files are
 * removed, and so are ranges outside the chain (none are left by a crash; they would be from another
 * replay).
 */
export async function spilledRanges(dir: string, startOffsets: ReadonlyMap<string, number>): Promise<{ files: string[]; ranges: SpillRange[]; resumeAt: Map<string, number> }> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const byPartition = new Map<string, { name: string; from: number; to: number }[]>();
  for (const name of names) {
    if (name.endsWith('.tmp')) {
      await rm(join(dir, name), { force: true });
      continue;
    }
    const match = RANGE_FILE.exec(name);
    if (match === null) continue;
    const key = match[1]!;
    const list = byPartition.get(key) ?? [];
    list.push({ name, from: Number(match[2]), to: Number(match[3]) });
    byPartition.set(key, list);
  }
  const files: string[] = [];
  const ranges: SpillRange[] = [];
  const resumeAt = new Map(startOffsets);
  for (const [key, list] of byPartition) {
    list.sort((a, b) => a.from - b.from);
    let next = startOffsets.get(key);
    for (const item of list) {
      if (next !== undefined && item.from === next) {
        const { reader, header } = await SpillReader.open(join(dir, item.name));
        await reader.close();
        files.push(join(dir, item.name));
        ranges.push(header as SpillRange);
        next = item.to + 1;
      } else {
        await rm(join(dir, item.name), { force: true });
      }
    }
    if (next !== undefined) resumeAt.set(key, next);
  }
  return { files, ranges, resumeAt };
}

function u32(value: number): Buffer {
  const bytes = Buffer.allocUnsafe(4);
  bytes.writeUInt32BE(value, 0);
  return bytes;
}
