import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { firstPerRunId, mergeSpills } from '../../src/dataset/merge.js';
import { SpillReader, writeSpillFile, type SpillEntry } from '../../src/dataset/spill-file.js';
import { SpillWriter, compareEntries, spilledRanges } from '../../src/dataset/spill.js';
import { withTempDir } from '../helpers/temp-dir.js';

const entry = (runId: string, producedAtMs: number, value: string): SpillEntry => ({ runId: Buffer.from(runId), producedAtMs, value: Buffer.from(value) });
/** A merge's or a reader's entry is valid until the next one: the tests keep copies. */
const copyOf = (e: SpillEntry): SpillEntry => ({ runId: Buffer.from(e.runId), producedAtMs: e.producedAtMs, value: Buffer.from(e.value) });

test('spilled runs merge back in run id order in several passes, and one entry per run id is kept: the latest produced', () => withTempDir('tracestream-spill-', async (dir) => {
  const spill = new SpillWriter(dir, 64); // a few entries per file: many files
  const entries: SpillEntry[] = [];
  // Partitions of two topics: 'a' 0 and 1, 'b' 0.
  const partitions = [['a', 0], ['a', 1], ['b', 0]] as const;
  for (const [topic, partition] of partitions) spill.startPartition(topic, partition, 0);
  for (let i = 0; i < 90; i += 1) {
    const e = entry(`run-${(i * 37) % 45}`, 1000 + i, `v${i}`); // each run id twice, produced at different times
    entries.push(e);
    await spill.add(partitions[i % 3]![0], partitions[i % 3]![1], Math.floor(i / 3), e);
  }
  await spill.flush();
  const names = (await readdir(dir)).filter((n) => n.endsWith('.run'));
  assert.ok(names.length > 8, `${names.length} spill files`);
  assert.deepEqual(new Set(names.map((n) => n.replace(/-\d+-\d+\.run$/, ''))), new Set(['a@p0', 'a@p1', 'b@p0']), 'files are named by topic and partition');
  const files = names.map((n) => join(dir, n));
  const merged: SpillEntry[] = [];
  for await (const e of mergeSpills(files, dir, 3)) merged.push(copyOf(e));
  assert.deepEqual(merged.map((e) => e.value.toString()), [...entries].sort(compareEntries).map((e) => e.value.toString()));
  assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('merge-')), [], 'intermediate merge files are removed');

  let duplicates = 0;
  const kept: SpillEntry[] = [];
  for await (const e of firstPerRunId(mergeSpills(files, dir, 3), () => { duplicates += 1; })) kept.push(copyOf(e));
  assert.equal(kept.length, 45);
  assert.equal(duplicates, 45);
  for (const e of kept) {
    const latest = Math.max(...entries.filter((x) => x.runId.equals(e.runId)).map((x) => x.producedAtMs));
    assert.equal(e.producedAtMs, latest, e.runId.toString());
  }
}));

test('after a crash, reading resumes at the end of each topic partition\'s unbroken chain of whole spill files', () => withTempDir('tracestream-spill-', async (dir) => {
  const spill = new SpillWriter(dir, 1 << 20);
  spill.startPartition('t.x', 0, 10);
  spill.startPartition('t-y', 0, 3);
  for (let offset = 10; offset < 20; offset += 1) await spill.add('t.x', 0, offset, entry(`r${offset}`, 1, 'v'));
  await spill.add('t.x', 0, 20, { skipped: 'tombstone (no value)' });
  await spill.add('t-y', 0, 3, entry('r3', 1, 'v'));
  await spill.flush();
  await writeFile(join(dir, 't.x@p0-21-30.run.tmp'), 'half a file'); // what a kill mid-write leaves
  await writeFile(join(dir, 't.x@p0-40-50.run'), 'a range after a gap'); // not from this replay's chain
  const { files, ranges, resumeAt } = await spilledRanges(dir, new Map([['t.x@p0', 10], ['t.x@p1', 5], ['t-y@p0', 3]]));
  assert.deepEqual(files.sort(), [join(dir, 't-y@p0-3-3.run'), join(dir, 't.x@p0-10-20.run')]);
  assert.deepEqual(ranges.map((r) => [r.topic, r.partition, r.from, r.to, r.entries, r.skipped.length]).sort(), [['t-y', 0, 3, 3, 1, 0], ['t.x', 0, 10, 20, 10, 1]]);
  assert.deepEqual([...resumeAt].sort(), [['t-y@p0', 4], ['t.x@p0', 21], ['t.x@p1', 5]]);
  assert.deepEqual(ranges.find((r) => r.topic === 't.x')!.skipped, [{ topic: 't.x', partition: 0, offset: 20, reason: 'tombstone (no value)' }]);
  assert.deepEqual((await readdir(dir)).sort(), ['t-y@p0-3-3.run', 't.x@p0-10-20.run']);
}));

test('a spill file reads back byte for byte whatever its entries\' sizes against the read buffer, and a cut file is an error', () => withTempDir('tracestream-spill-', async (dir) => {
  // Empty, smaller than, equal to, just over and many times the 64-byte buffer: entries straddle refills.
  const sizes = [0, 1, 10, 47, 48, 63, 64, 65, 100, 128, 1000, 70_000, 3, 64];
  const entries = sizes.map((size, i) => ({
    runId: Buffer.from(`run-${String(i).padStart(2, '0')}`),
    producedAtMs: 1_700_000_000_000 + i,
    value: Buffer.from(Array.from({ length: size }, (_, k) => (k * 7 + i) & 0xff)),
  }));
  const path = join(dir, 'entries.run');
  await writeSpillFile(path, entries, { merged: true });
  for (const chunkBytes of [64, 64 * 1024]) {
    const { reader, header } = await SpillReader.open(path, chunkBytes);
    assert.deepEqual(header, { merged: true });
    const read: SpillEntry[] = [];
    for (let e = await reader.next(); e !== undefined; e = await reader.next()) read.push(copyOf(e));
    await reader.close();
    assert.deepEqual(read, entries, `buffer of ${chunkBytes} bytes`);
  }
  const whole = await readFile(path);
  await writeFile(path, whole.subarray(0, whole.length - 30_000)); // inside the 70,000-byte value
  const { reader } = await SpillReader.open(path, 64);
  try {
    await assert.rejects(async () => { while (await reader.next() !== undefined); }, /ends inside an entry/);
  } finally {
    await reader.close();
  }
}));

test('a spilled range holds its traces in compareEntries order, values read back from staging; runs produced in the same millisecond are ordered by their bytes', () => withTempDir('tracestream-spill-', async (dir) => {
  const spill = new SpillWriter(dir, 1 << 20);
  spill.startPartition('t', 0, 0);
  // Three traces of run 'b' produced in the same millisecond, with values of different bytes and lengths.
  const entries = [entry('c', 5, 'x'), entry('b', 7, 'bb'), entry('b', 7, 'bz'), entry('a', 1, 'first'), entry('b', 7, 'b'), entry('b', 9, 'latest')];
  for (const [offset, e] of entries.entries()) await spill.add('t', 0, offset, e);
  assert.deepEqual((await readdir(dir)).filter((n) => n.endsWith('.staging.tmp')), ['t@p0-0.staging.tmp'], 'values wait in a staging file');
  await spill.flush();
  assert.deepEqual(await readdir(dir), ['t@p0-0-5.run'], 'the staging file is removed once the range is written');
  const { reader } = await SpillReader.open(join(dir, 't@p0-0-5.run'));
  const read: SpillEntry[] = [];
  for (let e = await reader.next(); e !== undefined; e = await reader.next()) read.push(copyOf(e));
  await reader.close();
  assert.deepEqual(read, [...entries].sort(compareEntries));
  assert.deepEqual(read.map((e) => `${e.runId.toString()}:${e.value.toString()}`), ['a:first', 'b:latest', 'b:bz', 'b:bb', 'b:b', 'c:x']);
}));

test('closing a spill writer that failed mid-range removes its staging files and writes no range', () => withTempDir('tracestream-spill-', async (dir) => {
  const spill = new SpillWriter(dir, 1 << 20);
  spill.startPartition('t', 0, 0);
  spill.startPartition('t', 1, 0);
  await spill.add('t', 0, 0, entry('a', 1, 'v'));
  await spill.add('t', 1, 0, entry('b', 1, 'v'));
  await spill.close();
  await spill.close();
  assert.deepEqual(await readdir(dir), []);
}));

test('a reader leaves a value larger than its buffer in the file until asked, and a cut one is an error then', () => withTempDir('tracestream-spill-', async (dir) => {
  const large = Buffer.from(Array.from({ length: 5000 }, (_, k) => k % 253));
  const path = join(dir, 'entries.run');
  await writeSpillFile(path, [entry('a', 1, 'small'), { runId: Buffer.from('b'), producedAtMs: 2, value: large }, entry('c', 3, 'after')], { merged: true });
  const { reader } = await SpillReader.open(path, 1024);
  try {
    assert.equal((await reader.nextHead())!.value!.toString(), 'small');
    assert.equal(reader.largeValueLength, undefined);
    const head = (await reader.nextHead())!;
    assert.deepEqual([head.runId.toString(), head.producedAtMs, head.value], ['b', 2, undefined]);
    assert.equal(reader.largeValueLength, 5000);
    const target = Buffer.alloc(8000);
    const value = await reader.readLargeValue(target);
    assert.deepEqual(value, large);
    assert.equal(value.buffer, target.buffer, 'read into the buffer given');
    assert.equal((await reader.nextHead())!.value!.toString(), 'after', 'reading goes on after the value left in the file');
    assert.equal(await reader.nextHead(), undefined);
  } finally {
    await reader.close();
  }
  const whole = await readFile(path);
  await writeFile(path, whole.subarray(0, whole.length - 2000)); // inside the large value (the last entry is small)
  const { reader: cut } = await SpillReader.open(path, 1024);
  try {
    await cut.nextHead();
    assert.equal((await cut.nextHead())!.value, undefined);
    await assert.rejects(cut.readLargeValue(), /ends inside an entry/);
  } finally {
    await cut.close();
  }
}));

test('a merge of files whose entries hold values larger than a reader\'s buffer gives them in compareEntries order, same-key ties broken by their bytes', () => withTempDir('tracestream-spill-', async (dir) => {
  const sized = (runId: string, producedAtMs: number, length: number, fill: number): SpillEntry => ({ runId: Buffer.from(runId), producedAtMs, value: Buffer.alloc(length, fill) });
  const LARGE = 300 * 1024; // over a reader's 256 KiB
  const files = [
    [sized('a', 1, LARGE, 1), sized('c', 5, 10, 2), sized('d', 1, LARGE + 1, 3)],
    [sized('a', 1, LARGE, 9), sized('b', 2, LARGE, 4), sized('d', 1, 20, 5)],
    [sized('a', 1, 10, 7), sized('b', 3, LARGE, 6), sized('e', 1, LARGE, 8)],
  ];
  const paths: string[] = [];
  for (const [i, entries] of files.entries()) {
    paths.push(join(dir, `${i}.run`));
    await writeSpillFile(paths[i]!, [...entries].sort(compareEntries), { merged: true });
  }
  const merged: SpillEntry[] = [];
  for await (const e of mergeSpills(paths, dir)) merged.push(copyOf(e));
  assert.deepEqual(merged, files.flat().sort(compareEntries));
}));
