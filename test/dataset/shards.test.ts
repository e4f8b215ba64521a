import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { SplitWriter } from '../../src/dataset/shards.js';
import { withTempDir } from '../helpers/temp-dir.js';

const openFiles = (): number => readdirSync('/proc/self/fd').length;

test('a split writer abandoned after a failure closes every file of its open shard', async () => {
  await withTempDir('tracestream-shards-', async (dir) => {
    await sleep(50);
    const before = openFiles();
    const writer = new SplitWriter(dir, 'train', ['parquet', 'jsonl', 'compact'], { shardBytes: 1 << 20, rowGroupBytes: 1, rowGroupSteps: 1, zstdLevel: 3 }, () => {
      throw new Error('this trace cannot be decoded');
    });
    await assert.rejects(writer.add(Buffer.from('a trace'), 1), /cannot be decoded/);
    await sleep(50);
    assert.equal(openFiles(), before + 3, 'the Parquet file and the two text files are open');
    writer.abandon();
    await sleep(50);
    assert.equal(openFiles(), before);
  });
});
