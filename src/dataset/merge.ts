import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SpillReader, writeSpillFile, type SpillEntry } from './spill-file.js';
import { compareEntries } from './spill.js';

/**
 * Spill files merged at once; more are merged in passes, so open files and read buffers stay
 * bounded. Each reader holds its current entry and a buffer at least as large (traces of up to
 * 2 MiB), so the fan-in times the largest trace is what the merge can hold: 16 keeps that near what
 * one topic's replay holds, at the price of a pass more for topics of over 16 spill files.
 */
const MERGE_FAN_IN = 16;

/**
 * The entries of sorted spill files in one sorted stream (k-way merge over a binary heap). Each
 * file is read through a bounded buffer, so memory does not grow with the files' sizes. With more
 * than `fanIn` files, groups of them are first merged into files in `workDir`.
 *
 * An entry is valid until the next one is asked for (most are views of a reader's buffer, see
 * `SpillReader`): whoever keeps one longer copies it.
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
  const heap: { entry: SpillEntry; reader: SpillReader }[] = [];
  const readers: SpillReader[] = [];
  try {
    for (const file of files) {
      const { reader } = await SpillReader.open(file);
      readers.push(reader);
      const entry = await reader.next();
      if (entry !== undefined) push(heap, { entry, reader });
    }
    while (heap.length > 0) {
      const top = heap[0]!;
      yield top.entry;
      const entry = await top.reader.next();
      if (entry === undefined) pop(heap);
      else {
        top.entry = entry;
        siftDown(heap, 0);
      }
    }
  } finally {
    await Promise.all(readers.map((reader) => reader.close()));
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

type Item = { entry: SpillEntry; reader: SpillReader };

function push(heap: Item[], item: Item): void {
  heap.push(item);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (compareEntries(heap[i]!.entry, heap[parent]!.entry) >= 0) break;
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
    if (left < heap.length && compareEntries(heap[left]!.entry, heap[smallest]!.entry) < 0) smallest = left;
    if (right < heap.length && compareEntries(heap[right]!.entry, heap[smallest]!.entry) < 0) smallest = right;
    if (smallest === i) return;
    [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
    i = smallest;
  }
}
