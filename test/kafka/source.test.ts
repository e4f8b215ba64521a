import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firstValueFrom, take, toArray } from 'rxjs';
import { kafkaSource, type ConsumedRecord, type KafkaClientConfig, type KafkaProducer } from '../../src/kafka/index.js';
import { uniqueName } from '../helpers/broker.js';
import { FAST_REJOIN, committedOffsets, readRecords, useKafkaFixture } from './support.js';

describe('kafkaSource', () => {
  let client: KafkaClientConfig;
  let producer: KafkaProducer;

  useKafkaFixture((fixture) => ({ client, producer } = fixture));

  it('emits every produced record once with its key, value and headers', async () => {
    const topic = uniqueName('src-all');
    const sent = Array.from({ length: 40 }, (_, i) => ({
      topic, key: `k${i}`, value: Buffer.from(`v${i}`), headers: { 'run-id': `r${i}` },
    }));
    await producer.send(sent);
    const records = await readRecords(client, uniqueName('g'), topic, sent.length);
    const got = records.map((r) => [r.key?.toString(), r.value?.toString(), r.headers['run-id']?.toString()]).sort();
    const want = sent.map((s) => [s.key, s.value.toString(), s.headers['run-id']]).sort();
    assert.deepEqual(got, want);
  });

  it('groupProtocol consumer (KIP-848) joins, reads every record and commits what was acked', async () => {
    const topic = uniqueName('src-kip848');
    const groupId = uniqueName('g');
    await producer.send(Array.from({ length: 5 }, (_, i) => ({ topic, partition: 0, key: null, value: Buffer.from(String(i)) })));
    const records = await readRecords(client, groupId, topic, 5, { groupProtocol: 'consumer' });
    assert.deepEqual(records.map((r) => r.value?.toString()), ['0', '1', '2', '3', '4']);
    assert.equal((await committedOffsets(client, groupId, topic, 1)).get(0), 5);
  });

  it('assignAllPartitions reads every partition from the beginning without joining the group, and commits nothing', async () => {
    const topic = uniqueName('src-assign');
    const groupId = uniqueName('g');
    await producer.send([0, 1, 2, 3].map((partition) => ({ topic, partition, key: null, value: Buffer.from(`p${partition}`) })));
    const records = await readRecords(client, groupId, topic, 4, { assignAllPartitions: true, commitIntervalMs: 50 });
    assert.deepEqual(records.map((r) => r.value?.toString()).sort(), ['p0', 'p1', 'p2', 'p3']);
    const committed = await committedOffsets(client, groupId, topic, 4);
    assert.deepEqual([...committed.values()].filter((offset) => offset >= 0), [], 'no offsets were committed for the group');
  });

  it('commits only up to the first un-acked offset, so a reopened group resumes there', async () => {
    const topic = uniqueName('src-contig');
    const groupId = uniqueName('g');
    await producer.send(Array.from({ length: 6 }, (_, i) => ({ topic, partition: 0, key: null, value: Buffer.from(String(i)) })));
    const first = kafkaSource({ client, groupId, topics: [topic], commitIntervalMs: 50, ...FAST_REJOIN });
    const records = await firstValueFrom(first.records.pipe(take(6), toArray()));
    assert.deepEqual(records.map((r) => r.offset), ['0', '1', '2', '3', '4', '5']);
    for (const offset of ['5', '3', '0', '1', '4']) records[Number(offset)]!.ack(); // offset 2 stays un-acked
    await first.close();
    assert.equal((await committedOffsets(client, groupId, topic, 1)).get(0), 2);

    const again = await readRecords(client, groupId, topic, 4, FAST_REJOIN);
    assert.deepEqual(again.map((r) => r.offset), ['2', '3', '4', '5']);
  });

  it('pauses a partition at maxInFlightPerPartition un-acked records and resumes it on ack', async () => {
    const topic = uniqueName('src-bp');
    await producer.send([0, 1].flatMap((partition) => Array.from({ length: 10 }, (_, i) => ({ topic, partition, key: null, value: Buffer.from(`${partition}-${i}`) }))));
    const source = kafkaSource({ client, groupId: uniqueName('g'), topics: [topic], maxInFlightPerPartition: 2, consumeBatchSize: 50 });
    const byPartition = new Map<number, ConsumedRecord[]>([[0, []], [1, []], [2, []]]);
    let notify: (() => void) | undefined;
    const subscription = source.records.subscribe((record) => {
      byPartition.get(record.partition)!.push(record);
      notify?.();
    });
    const until = async (condition: () => boolean): Promise<void> => {
      while (!condition()) await new Promise<void>((resolve) => { notify = resolve; setTimeout(resolve, 200); });
    };
    try {
      await until(() => byPartition.get(0)!.length >= 2 && byPartition.get(1)!.length >= 2);
      // Not a sleep: a record produced now on a third partition arrives only through fetch rounds
      // made after the pause, in which partitions 0 and 1 (whose records were there all along)
      // would have overshot if they were going to.
      const marker = async (value: string) => {
        await producer.send([{ topic, partition: 2, key: null, value: Buffer.from(value) }]);
        await until(() => byPartition.get(2)!.some((r) => r.value?.toString() === value));
        for (const record of byPartition.get(2)!) record.ack();
      };
      await marker('marker-1');
      assert.equal(byPartition.get(0)!.length, 2);
      assert.equal(byPartition.get(1)!.length, 2);

      for (const record of byPartition.get(0)!.slice()) record.ack();
      await until(() => byPartition.get(0)!.length >= 4);
      await marker('marker-2');
      assert.equal(byPartition.get(0)!.length, 4, 'two acks free exactly two slots');
      assert.equal(byPartition.get(1)!.length, 2, 'the other partition stays paused');
      assert.deepEqual(byPartition.get(0)!.map((r) => r.value?.toString()), ['0-0', '0-1', '0-2', '0-3']);
    } finally {
      subscription.unsubscribe();
      await source.close();
    }
  });
});
