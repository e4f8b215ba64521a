import { open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
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
 * Sorted runs of topics' traces on disk, one file per partition range. Record values are not held
 * in memory: each is appended to its partition's staging file as it comes, and memory keeps an index
 * entry per trace (run id, produced time, where its value is staged). Past `budgetBytes` of staged
 * values, or `MAX_INDEXED_ENTRIES` traces, the partition holding the most is sorted by its index and
 * written out, its values read back in that order (from the page cache, as a rule: they were just
 * written) a batch at a time. A run file is written under a temporary name and renamed once
 * complete, so after a crash every `.run` file is whole and the offsets it covers need not be read
 * again; staging files are temporary too.
 *
 * Why not sort the values in memory: held until their range is written, they were what the read
 * phase's memory was made of, and freed a partition at a time in no order related to their
 * allocation, they left the allocator's heap fragmented, so that the process' RSS grew with the
 * topic's size (README "Benchmarks", replay).
 */
export class SpillWriter {
  /** By `partitionKey`. */
  private readonly ranges = new Map<string, PendingRange>();
  private stagedBytes = 0;
  private indexedEntries = 0;

  constructor(private readonly dir: string, private readonly budgetBytes: number) {}

  /** Starts a partition's next range at `offset` (where the topic is read from). */
  startPartition(topic: string, partition: number, offset: number): void {
    this.ranges.set(partitionKey(topic, partition), emptyRange(topic, partition, offset));
  }

  /** Adds the record at `offset`: a trace (`entry`), or one that is skipped and why. */
  async add(topic: string, partition: number, offset: number, entry: SpillEntry | { skipped: string }): Promise<void> {
    const range = this.ranges.get(partitionKey(topic, partition));
    if (range === undefined) throw new Error(`partition ${partition} of ${topic} was not started`);
    range.last = offset;
    if ('skipped' in entry) {
      range.skipped.push({ topic, partition, offset, reason: entry.skipped });
      return;
    }
    range.staging ??= await openStaging(join(this.dir, `${partitionKey(topic, partition)}-${range.from}.staging.tmp`));
    await writeFully(range.staging.file, entry.value, range.stagedBytes);
    range.index.push({ runId: entry.runId, producedAtMs: entry.producedAtMs, position: range.stagedBytes, length: entry.value.length });
    range.stagedBytes += entry.value.length;
    this.stagedBytes += entry.value.length;
    this.indexedEntries += 1;
    if (this.stagedBytes > this.budgetBytes || this.indexedEntries >= MAX_INDEXED_ENTRIES) await this.flushLargest();
  }

  /** Writes every partition's pending range. */
  async flush(): Promise<void> {
    for (const key of this.ranges.keys()) await this.flushPartition(key);
  }

  /** Closes and removes the staging files of ranges not written (after a failure); idempotent. */
  async close(): Promise<void> {
    for (const range of this.ranges.values()) await discardStaging(range);
  }

  private async flushLargest(): Promise<void> {
    let largest: string | undefined;
    let bytes = -1;
    for (const [key, range] of this.ranges) {
      if (range.stagedBytes > bytes) {
        largest = key;
        bytes = range.stagedBytes;
      }
    }
    if (largest !== undefined) await this.flushPartition(largest);
  }

  private async flushPartition(key: string): Promise<void> {
    const range = this.ranges.get(key)!;
    if (range.last < range.from) return;
    const { topic, partition, from, last: to, index, staging } = range;
    await sortIndex(index, staging);
    await writeSpillFile(join(this.dir, spillFileName({ topic, partition, from, to })), stagedEntries(index, staging), {
      topic, partition, from, to, entries: index.length, skipped: range.skipped,
    });
    await discardStaging(range);
    this.stagedBytes -= range.stagedBytes;
    this.indexedEntries -= index.length;
    this.ranges.set(key, emptyRange(topic, partition, to + 1));
  }
}

/**
 * Traces indexed before their partition's range is written, whatever their size: an index entry
 * takes about 150 bytes, so this bounds the index to about 15 MiB when traces are tiny.
 */
const MAX_INDEXED_ENTRIES = 100_000;

/** Where a staged trace's value is in its partition's staging file. */
interface IndexEntry {
  runId: Buffer;
  producedAtMs: number;
  position: number;
  length: number;
}

interface PendingRange {
  topic: string;
  partition: number;
  from: number;
  last: number;
  index: IndexEntry[];
  /** Opened with the range's first trace. */
  staging: Staging | undefined;
  stagedBytes: number;
  skipped: SkippedRecord[];
}

function emptyRange(topic: string, partition: number, from: number): PendingRange {
  return { topic, partition, from, last: from - 1, index: [], staging: undefined, stagedBytes: 0, skipped: [] };
}

interface Staging {
  file: FileHandle;
  path: string;
}

async function openStaging(path: string): Promise<Staging> {
  return { file: await open(path, 'w+'), path };
}

async function discardStaging(range: PendingRange): Promise<void> {
  const staging = range.staging;
  if (staging === undefined) return;
  range.staging = undefined;
  await staging.file.close();
  await rm(staging.path, { force: true });
}

/**
 * Sorts `index` as `compareEntries` orders the entries: by run id and produced time from memory,
 * and, only among entries equal in both (rare: the same run produced twice in one millisecond), by
 * their values, read back from `staging`.
 */
async function sortIndex(index: IndexEntry[], staging: Staging | undefined): Promise<void> {
  const byKey = (a: IndexEntry, b: IndexEntry): number => Buffer.compare(a.runId, b.runId) || b.producedAtMs - a.producedAtMs;
  index.sort(byKey);
  for (let start = 0; start < index.length;) {
    let end = start + 1;
    while (end < index.length && byKey(index[start]!, index[end]!) === 0) end += 1;
    if (end - start > 1) {
      const tied = await Promise.all(index.slice(start, end).map(async (entry) => ({ entry, value: await readStaged(staging!.file, entry) })));
      tied.sort((a, b) => Buffer.compare(b.value, a.value));
      tied.forEach(({ entry }, i) => { index[start + i] = entry; });
    }
    start = end;
  }
}

/** The index's traces, in its order, with their values read back from `staging`. */
async function* stagedEntries(index: readonly IndexEntry[], staging: Staging | undefined): AsyncGenerator<SpillEntry> {
  for (const entry of index) yield { runId: entry.runId, producedAtMs: entry.producedAtMs, value: await readStaged(staging!.file, entry) };
}

async function readStaged(staging: FileHandle, entry: IndexEntry): Promise<Buffer> {
  const value = Buffer.allocUnsafe(entry.length);
  let read = 0;
  while (read < entry.length) {
    const { bytesRead } = await staging.read(value, read, entry.length - read, entry.position + read);
    if (bytesRead === 0) throw new Error('a staging file ends before a value it holds');
    read += bytesRead;
  }
  return value;
}

/** Writes all of `bytes` at `position`, or where the file is when none is given. */
async function writeFully(file: FileHandle, bytes: Buffer, position?: number): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const { bytesWritten } = await file.write(bytes, written, bytes.length - written, position === undefined ? null : position + written);
    written += bytesWritten;
  }
}

/** What a spill file's writer gathers before writing it out: one buffer, reused. */
const WRITE_BATCH_BYTES = 4 * 1024 * 1024;

/**
 * File layout: a 4-byte length and a JSON header (the range), then per entry: 4-byte run id
 * length, run id, 8-byte producedAtMs, 4-byte value length, value. All big-endian.
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
 * reading allocates nothing; only a larger one is read into buffers of its own.
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

  private constructor(private readonly file: Awaited<ReturnType<typeof open>>, chunkBytes: number) {
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
   * is views of it, valid until the next call: whoever keeps an entry longer copies it.
   */
  async next(): Promise<SpillEntry | undefined> {
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
    const value = await this.readOwned(valueLength);
    if (runId === undefined || value === undefined) throw new Error('spill file ends inside an entry');
    return { runId, producedAtMs, value };
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
