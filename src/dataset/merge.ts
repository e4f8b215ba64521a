import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SpillReader, writeSpillFile, type SpillEntry, type SpillHead } from './spill-file.js';
import { compareKeys } from './spill.js';

/**
 * Spill files merged at once; more are merged in passes, so open files and read buffers stay
 * bounded: a reader's buffer (256 KiB) each, plus the largest value (see `mergeFiles`).
 */
const MERGE_FAN_IN = 16;

/**
 * The entries of sorted spill files in one sorted stream (k-way merge over a binary heap). Each
 * file is read through a bounded buffer, so memory does not grow with the files' sizes. With more
 * than `fanIn` files, groups of them are first merged into files in `workDir`.
 *
 * The entries waiting at the head of each file hold their values only when these fit in the
 * reader's buffer; a larger value stays in its file until its entry is handed out, and is then read
 * into one buffer that every large value reuses. Holding them all instead, the merge held as many
 * of the largest traces as it had files whenever copies of one run sat at the head of each (up to
 * 36 MiB of the write phase's peak at 8x, heaptrack; README "Benchmarks", replay).
 *
 * An entry is valid until the next one is asked for (views of a reader's buffer or of the large
 * value's): whoever keeps one longer copies it.
 */
export async function* mergeSpills(files: readonly string[], workDir: string, fanIn = MERGE_FAN_IN): AsyncGenerator<SpillEntry> {
  let level = [...files];
  let pass = 0;
  const intermediates: string[] = [];
  try {
    while (level.length > fanIn) {
      const next: string[] = [];
      for (let i = 0; i < level.length; i += fanIn) {
        const path = join(workDir, `merge-${pass}-${next.length}.run`);
        await writeMerged(path, level.slice(i, i + fanIn));
        next.push(path);
        intermediates.push(path);
      }
      level = next;
      pass += 1;
    }
    yield* mergeFiles(level);
  } finally {
    await Promise.all(intermediates.map((path) => rm(path, { force: true })));
  }
}

/** Writes the merge of `files` as one spill file, streamed. */
function writeMerged(path: string, files: readonly string[]): Promise<void> {
  return writeSpillFile(path, mergeFiles(files), { merged: true });
}

async function* mergeFiles(files: readonly string[]): AsyncGenerator<SpillEntry> {
  const heap: Item[] = [];
  const readers: SpillReader[] = [];
  /** The large value handed out last: one buffer, grown to the largest value, reused. */
  let large = Buffer.alloc(0);
  const advance = async (reader: SpillReader): Promise<Item | undefined> => {
    const head = await reader.nextHead();
    if (head === undefined) return undefined;
    const item: Item = { head, reader, tieValue: undefined };
    await loadTiedValues(item, heap);
    return item;
  };
  try {
    for (const file of files) {
      const { reader } = await SpillReader.open(file);
      readers.push(reader);
      const item = await advance(reader);
      if (item !== undefined) push(heap, item);
    }
    while (heap.length > 0) {
      const top = heap[0]!;
      let value = top.head.value ?? top.tieValue;
      if (value === undefined) {
        const length = top.reader.largeValueLength!;
        if (large.length < length) large = Buffer.allocUnsafeSlow(length);
        value = await top.reader.readLargeValue(large);
      }
      yield { runId: top.head.runId, producedAtMs: top.head.producedAtMs, value };
      const next = await advance(top.reader);
      if (next === undefined) pop(heap);
      else {
        heap[0] = next;
        siftDown(heap, 0);
      }
    }
  } finally {
    await Promise.all(readers.map((reader) => reader.close()));
  }
}

/**
 * Reads the values left in their files by `item` and any waiting entry with the same key (run id
 * and produced time), which only their bytes can order (`compareEntries`): rare, so into buffers
 * of their own.
 */
async function loadTiedValues(item: Item, heap: readonly Item[]): Promise<void> {
  for (const other of heap) {
    if (other.reader === item.reader || compareKeys(other.head, item.head) !== 0) continue;
    for (const tied of [item, other]) {
      if (tied.head.value === undefined && tied.tieValue === undefined) tied.tieValue = await tied.reader.readLargeValue();
    }
  }
}

/** One entry per run id: the first of each run id in merge order, which `compareEntries` makes the rule's winner. */
export async function* firstPerRunId(entries: AsyncIterable<SpillEntry>, onDuplicate: () => void): AsyncGenerator<SpillEntry> {
  let previous: Buffer | undefined;
  for await (const entry of entries) {
    if (previous !== undefined && previous.equals(entry.runId)) {
      onDuplicate();
      continue;
    }
    // A copy: the entry's bytes are the merge's until the next entry is asked for.
    previous = Buffer.from(entry.runId);
    yield entry;
  }
}

/** A file's entry waiting in the merge; `tieValue`: its large value, read only to break a tie. */
interface Item { head: SpillHead; reader: SpillReader; tieValue: Buffer | undefined }

/** `compareEntries` on waiting entries: keys, then (tied keys only, whose values are loaded) the values' bytes, larger first. */
function compareItems(a: Item, b: Item): number {
  return compareKeys(a.head, b.head) || Buffer.compare((b.head.value ?? b.tieValue)!, (a.head.value ?? a.tieValue)!);
}

function push(heap: Item[], item: Item): void {
  heap.push(item);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (compareItems(heap[i]!, heap[parent]!) >= 0) break;
    [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
    i = parent;
  }
}

function pop(heap: Item[]): void {
  const last = heap.pop()!;
  if (heap.length === 0) return;
  heap[0] = last;
  siftDown(heap, 0);
}

function siftDown(heap: Item[], start: number): void {
  let i = start;
  for (;;) {
    const left = 2 * i + 1;
    const right = left + 1;
    let smallest = i;
    if (left < heap.length && compareItems(heap[left]!, heap[smallest]!) < 0) smallest = left;
    if (right < heap.length && compareItems(heap[right]!, heap[smallest]!) < 0) smallest = right;
    if (smallest === i) return;
    [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
    i = smallest;
  }
}
