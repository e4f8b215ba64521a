import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { parquetMetadata } from 'hyparquet';
import { toDatasetRow } from '../../src/dataset/row.js';
import { SplitWriter } from '../../src/dataset/shards.js';
import { queryDuckDB } from '../helpers/duckdb.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { syntheticTrace } from './traces.js';

const openFiles = (): number => readdirSync('/proc/self/fd').length;

test('a split writer abandoned after a failure closes every file of its open shard', async () => {
  await withTempDir('tracestream-shards-', async (dir) => {
    await sleep(50);
    const before = openFiles();
    const writer = new SplitWriter(dir, 'train', ['parquet', 'jsonl', 'compact'], { shardBytes: 1 << 20, rowGroupBytes: 1, rowGroupSteps: 1, rowGroupChanges: 1, zstdLevel: 3 }, () => {
      throw new Error('this trace cannot be decoded');
    });
    // The first trace opens the shard; the second writes the first's row group, which decodes it.
    await writer.add(Buffer.from('a trace'), 1);
    await assert.rejects(writer.add(Buffer.from('another trace'), 1), /cannot be decoded/);
    await sleep(50);
    assert.equal(openFiles(), before + 3, 'the Parquet file and the two text files are open');
    writer.abandon();
    await sleep(50);
    assert.equal(openFiles(), before);
  });
});

/** Rows per row group of the Parquet shard `split-00000` a SplitWriter wrote into `dir`, read back from its footer. */
const rowGroupSizes = (dir: string): number[] => {
  const bytes = readFileSync(join(dir, 'train-00000.parquet'));
  return parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)).row_groups.map((group) => Number(group.num_rows));
};

/** The run ids of a Parquet file in row order, as DuckDB (another reader than the writer's) reads them. */
async function runIdsOf(path: string): Promise<string[]> {
  return (await queryDuckDB(`select run_id from read_parquet('${path}')`)).map((row) => String(row['run_id']));
}

/**
 * Writes traces of the given sizes and step counts through one split writer (trace i decodes to
 * `syntheticTrace(i)`, its first byte saying which); returns its row groups' sizes, after checking
 * that every run is in the file once, in the order given.
 */
async function rowGroupsOf(traces: { bytes: number; steps: number }[], limits: { rowGroupBytes: number; rowGroupSteps: number; rowGroupChanges?: number }): Promise<number[]> {
  return withTempDir('tracestream-row-groups-', async (dir) => {
    const writer = new SplitWriter(dir, 'train', ['parquet'], { shardBytes: 1 << 30, zstdLevel: 3, rowGroupChanges: 1e9, ...limits }, async (trace) => toDatasetRow(syntheticTrace(trace[0]!)));
    for (const [i, { bytes, steps }] of traces.entries()) await writer.add(Buffer.alloc(bytes, i), steps);
    await writer.finish();
    assert.deepEqual(await runIdsOf(join(dir, 'train-00000.parquet')), traces.map((_, i) => syntheticTrace(i).runId));
    return rowGroupSizes(dir);
  });
}

test('a row group is written before the trace that would take it past its byte limit, so none holds more (a larger trace is a row group of its own)', async () => {
  const kib = (n: number) => ({ bytes: n * 1024, steps: 1 });
  // 3 + 3 KiB fit in 8; a third 3 KiB trace would make 9, so it starts the next group; 20 KiB exceeds the limit alone.
  assert.deepEqual(await rowGroupsOf([kib(3), kib(3), kib(3), kib(20), kib(8), kib(1)], { rowGroupBytes: 8 * 1024, rowGroupSteps: 1e9 }), [2, 1, 1, 1, 1]);
});

test('a row group is written before the trace that would take it past its step limit, so none holds more', async () => {
  const steps = (n: number) => ({ bytes: 10, steps: n });
  assert.deepEqual(await rowGroupsOf([steps(40), steps(60), steps(1), steps(250), steps(100), steps(100)], { rowGroupBytes: 1 << 30, rowGroupSteps: 100 }), [2, 1, 1, 1, 1]);
});

test('a row group holds no more variable changes than its limit: the trace that would pass it, counted once decoded, starts the next one', async () => {
  // syntheticTrace(0..6) hold 2, 2, 4, 4, 6, 6 and 8 changes: groups of 2+2+4, 4+6, 6, and 8 under a limit of 10.
  const traces = Array.from({ length: 7 }, () => ({ bytes: 3000, steps: 1 }));
  assert.deepEqual(await rowGroupsOf(traces, { rowGroupBytes: 1 << 30, rowGroupSteps: 1e9, rowGroupChanges: 10 }), [3, 2, 1, 1]);
  // Two traces' bytes per group: trace 6 would make three, so 4 and 5 are written, and 5 (6 + 6 > 10) is carried over to go with 6.
  assert.deepEqual(await rowGroupsOf(traces, { rowGroupBytes: 2 * 3000, rowGroupSteps: 1e9, rowGroupChanges: 10 }), [2, 2, 1, 1, 1]);
});
