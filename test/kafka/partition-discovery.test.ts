import assert from 'node:assert/strict';
import { test } from 'node:test';
import { discoverPartitions, type TopicPartitionId } from '../../src/kafka/consumer/partition-discovery.js';
import { eventually } from '../helpers/cli-process.js';

// librdkafka's mock cluster has no CreatePartitions (nor CreateTopics) handler: an admin
// createPartitions times out there, so a topic cannot grow on the embedded broker. The discovery
// is checked here against scripted metadata answers; on the broker, the source tests run with it on.
test('partitions that appear in metadata are handed to the reader once each; a failed look is retried', async () => {
  const counts = new Map([['traces', 2], ['other', 1]]);
  let failNext = false;
  const reading = new Set(['traces/0', 'traces/1', 'other/0']);
  const added: TopicPartitionId[][] = [];
  const errors: unknown[] = [];
  const stop = discoverPartitions({
    topics: ['traces', 'other'],
    intervalMs: 10,
    partitionsOf: async (topic) => {
      if (failNext) {
        failNext = false;
        throw new Error('metadata unavailable');
      }
      return Array.from({ length: counts.get(topic)! }, (_, i) => i);
    },
    has: ({ topic, partition }) => reading.has(`${topic}/${partition}`),
    add: async (partitions) => {
      added.push(partitions);
      for (const p of partitions) reading.add(`${p.topic}/${p.partition}`);
    },
    onError: (error) => errors.push(error),
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.deepEqual(added, [], 'nothing new while the partition counts stay');
    failNext = true;
    await eventually('the failed look is reported', 5_000, async () => (errors.length === 1 ? true : undefined));
    counts.set('traces', 4);
    await eventually('the two new partitions of traces are added', 5_000, async () => (added.length === 1 ? true : undefined));
    assert.deepEqual(added[0], [{ topic: 'traces', partition: 2 }, { topic: 'traces', partition: 3 }]);
    counts.set('other', 2);
    await eventually('the new partition of other is added', 5_000, async () => (added.length === 2 ? true : undefined));
    assert.deepEqual(added[1], [{ topic: 'other', partition: 1 }]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(added.length, 2, 'each new partition is added once');
  } finally {
    stop();
  }
  const looksAfterStop = added.length;
  counts.set('traces', 6);
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(added.length, looksAfterStop, 'no look after the teardown');
});
