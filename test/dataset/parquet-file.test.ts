import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ByteWriter, ParquetWriter, type Writer } from 'hyparquet-writer';
import { ParquetFile } from '../../src/dataset/parquet-file.js';
import { withTempDir } from '../helpers/temp-dir.js';

/** Row groups whose pages range from a few bytes to several times what a ParquetFile gathers, uncompressed so that their size is known. */
async function writeRowGroups(writer: Writer): Promise<void> {
  const parquet = new ParquetWriter({ writer, codec: 'UNCOMPRESSED', schema: [
    { name: 'root', num_children: 2 },
    { name: 'id', type: 'INT32', repetition_type: 'REQUIRED' },
    { name: 'text', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  ] });
  for (const [group, textBytes] of [1, 100, 20_000, 300_000, 3].entries()) {
    const ids = Array.from({ length: 4 }, (_, i) => group * 4 + i);
    await parquet.write({
      columnData: [
        { name: 'id', data: ids },
        { name: 'text', data: ids.map((id) => (id % 3 === 0 ? null : `${id}:`.padEnd(textBytes, String.fromCharCode(97 + (id % 26))))) },
      ],
      rowGroupSize: ids.length,
    });
  }
  await parquet.finish();
}

test('a ParquetFile writes the bytes the library writes into memory, pages larger than its buffer included', async () => {
  await withTempDir('tracestream-parquet-file-', async (dir) => {
    const inMemory = new ByteWriter();
    await writeRowGroups(inMemory);
    const path = join(dir, 'rows.parquet');
    await writeRowGroups(new ParquetFile(path));
    const written = await readFile(path);
    assert.ok(written.length > 500_000, `a page of 300 kB values went to the file (${written.length} bytes)`);
    assert.deepEqual(written, Buffer.from(inMemory.getBytes()));
  });
});

test('a ParquetFile keeps one buffer of fixed size however large the pages it writes', async () => {
  await withTempDir('tracestream-parquet-file-', async (dir) => {
    const file = new ParquetFile(join(dir, 'rows.parquet'));
    const buffer = file.buffer;
    await writeRowGroups(file);
    assert.equal(file.buffer, buffer);
    assert.equal(file.buffer.byteLength, 64 * 1024);
  });
});

test('closing a ParquetFile writes what it gathered once; a second close does nothing', async () => {
  await withTempDir('tracestream-parquet-file-', async (dir) => {
    const path = join(dir, 'bytes');
    const file = new ParquetFile(path);
    file.appendUint32(0x31524150);
    file.appendBytes(new Uint8Array(100_000).fill(7));
    file.appendUint8(9);
    file.close();
    file.close();
    const written = await readFile(path);
    assert.equal(written.length, 100_005);
    assert.equal(file.offset, 100_005);
    assert.deepEqual([...written.subarray(0, 4)], [0x50, 0x41, 0x52, 0x31]);
    assert.equal(written[100_004], 9);
    assert.throws(() => file.getBytes(), /holds no whole buffer/);
  });
});
