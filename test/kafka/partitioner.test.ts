import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { murmur2, partitionOfKey } from '../../src/kafka/producer/partitioner.js';

describe('partitioner', () => {
  it("murmur2 gives the hashes of Kafka's own murmur2 test vectors (Java client's UtilsTest)", () => {
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of vectors) assert.equal(murmur2(Buffer.from(key)), hash, key);
  });

  it('a string key and its UTF-8 bytes land on the same partition, however long or non-ASCII', () => {
    const keys = ['k1', 'run-7#0', 'ünïcødé ключ 键', 'x'.repeat(1000), ''];
    for (const key of keys) {
      for (const partitions of [1, 4, 12, 100]) {
        const expected = partitionOfKey(Buffer.from(key, 'utf8'), partitions);
        assert.equal(partitionOfKey(key, partitions), expected, `${key.slice(0, 20)} over ${partitions}`);
        assert.ok(expected >= 0 && expected < partitions);
      }
    }
  });
});
