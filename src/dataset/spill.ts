import { open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { partitionKey } from './scan.js';
import { SpillReader, readAt, writeFully, writeSpillFile, type SkippedRecord, type SpillEntry, type SpillRange } from './spill-file.js';

/**
 * The order of the dataset and the rule that picks one trace per run id: by run id (its UTF-8
 * bytes), then the latest produced first (`producedAtMs`, what a re-run after a crash carries),
 * then by the record's bytes, larger first, so that even two traces produced in the same
 * millisecond have one winner that depends on their content alone, never on partitions, offsets
 * or which arrived first.
 */
export function compareEntries(a: SpillEntry, b: SpillEntry): number {
  return compareKeys(a, b) || Buffer.compare(b.value, a.value);
}

/** `compareEntries` without its last tiebreak: what an entry's index (run id, produced time) decides alone. */
export function compareKeys(a: Pick<SpillEntry, 'runId' | 'producedAtMs'>, b: Pick<SpillEntry, 'runId' | 'producedAtMs'>): number {
  return Buffer.compare(a.runId, b.runId) || b.producedAtMs - a.producedAtMs;
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
  index.sort(compareKeys);
  for (let start = 0; start < index.length;) {
    let end = start + 1;
    while (end < index.length && compareKeys(index[start]!, index[end]!) === 0) end += 1;
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
  const value = await readAt(staging, entry.position, entry.length);
  if (value === undefined) throw new Error('a staging file ends before a value it holds');
  return value;
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
