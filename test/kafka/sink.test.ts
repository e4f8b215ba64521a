import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { from, lastValueFrom, toArray } from 'rxjs';
import Kafka from '@confluentinc/kafka-javascript';
import {
  DEAD_LETTER_HEADERS, deadLetter, ensureTopics, produceTo, startExactlyOnce,
  type KafkaClientConfig, type KafkaProducer,
} from '../../src/kafka/index.js';
import { uniqueName, type TestBroker } from '../helpers/broker.js';
import { FAST_REJOIN, committedOffsets, readRecords, useKafkaFixture } from './support.js';

describe('producer, dead letters, topics and transactions', () => {
  let broker: TestBroker;
  let client: KafkaClientConfig;
  let producer: KafkaProducer;

  useKafkaFixture((fixture) => ({ broker, client, producer } = fixture));

  it('produceTo emits each item only after its records were delivered, and a consumer reads them', async () => {
    const topic = uniqueName('sink');
    const items = Array.from({ length: 30 }, (_, i) => i);
    const emitted = await lastValueFrom(from(items).pipe(
      produceTo(producer, (i) => [{ topic, key: `k${i}`, value: Buffer.from(`a${i}`) }, { topic, key: `k${i}`, value: Buffer.from(`b${i}`) }], { maxInFlight: 4 }),
      toArray(),
    ));
    assert.deepEqual([...emitted].sort((a, b) => a - b), items);
    const records = await readRecords(client, uniqueName('g'), topic, 60);
    assert.deepEqual(records.map((r) => r.value!.toString()).sort(), items.flatMap((i) => [`a${i}`, `b${i}`]).sort());
  });

  it("keyed records land where librdkafka's murmur2 partitioner (the Java client's default) puts them; unkeyed ones go round-robin", async () => {
    const keyed = uniqueName('murmur-ours');
    const reference = uniqueName('murmur-librdkafka');
    const keys = Array.from({ length: 40 }, (_, i) => `solution-${i}#0`);
    const unkeyed = uniqueName('round-robin');
    // Four partitions on a real cluster too, whose default may be one.
    await ensureTopics({ client, embedded: broker.mock, topics: [keyed, reference, unkeyed].map((name) => ({ name, partitions: 4 })), log: { warn: () => {} } });
    await producer.send(keys.map((key) => ({ topic: keyed, key, value: Buffer.from(key) })));
    const ours = await readRecords(client, uniqueName('g'), keyed, keys.length);
    const native = new Kafka.Producer({ 'bootstrap.servers': client.bootstrapServers, partitioner: 'murmur2', dr_cb: true });
    await new Promise<void>((resolve, reject) => native.connect({}, (err) => (err ? reject(err) : resolve())));
    native.setPollInBackground(true);
    const placed = new Map<string, number>();
    const reported = new Promise<void>((resolve, reject) => native.on('delivery-report', (err, report) => {
      if (err) reject(err);
      placed.set(String(report.key), report.partition);
      if (placed.size === keys.length) resolve();
    }));
    for (const key of keys) native.produce(reference, null, Buffer.from(key), key);
    await reported;
    await new Promise<void>((resolve) => native.disconnect(() => resolve()));
    const partitionsUsed = new Set(ours.map((r) => r.partition));
    assert.ok(partitionsUsed.size > 1, 'the keys spread over several partitions');
    for (const record of ours) assert.equal(record.partition, placed.get(record.key!.toString()), record.key!.toString());

    await producer.send(Array.from({ length: 8 }, (_, i) => ({ topic: unkeyed, key: null, value: Buffer.from(String(i)) })));
    const spread = await readRecords(client, uniqueName('g'), unkeyed, 8);
    const perPartition = new Map<number, number>();
    for (const record of spread) perPartition.set(record.partition, (perPartition.get(record.partition) ?? 0) + 1);
    assert.deepEqual([...perPartition.values()], [2, 2, 2, 2]);
  });

  it('send rejects with KAFKA_DELIVERY_FAILED naming the topic when a record cannot be delivered', async () => {
    const topic = uniqueName('toolarge');
    await assert.rejects(producer.send([{ topic, key: null, value: Buffer.alloc(2 * 1024 * 1024) }]), (error: unknown) => {
      assert.equal((error as { code?: string }).code, 'KAFKA_DELIVERY_FAILED');
      assert.equal((error as { details: { topic?: string } }).details.topic, topic);
      return true;
    });
  });

  it('a dead-letter record carries the original bytes, the reason and the origin', async () => {
    const source = uniqueName('dl-src');
    const dlq = uniqueName('dl');
    await producer.send([{ topic: source, partition: 1, key: 'run-7', value: Buffer.from('not avro'), headers: { trace: 't1' } }]);
    const [original] = await readRecords(client, uniqueName('g'), source, 1);
    await deadLetter(producer, dlq)(original!, 'decode failed', new Error('bad magic byte'));
    const [letter] = await readRecords(client, uniqueName('g'), dlq, 1);
    assert.equal(letter!.key?.toString(), 'run-7');
    assert.equal(letter!.value?.toString(), 'not avro');
    const header = (name: string) => letter!.headers[name]?.toString();
    assert.equal(header(DEAD_LETTER_HEADERS.reason), 'decode failed');
    assert.equal(header(DEAD_LETTER_HEADERS.error), 'Error: bad magic byte');
    assert.equal(header(DEAD_LETTER_HEADERS.sourceTopic), source);
    assert.equal(header(DEAD_LETTER_HEADERS.sourcePartition), '1');
    assert.equal(header(DEAD_LETTER_HEADERS.sourceOffset), '0');
    assert.equal(header('trace'), 't1');
  });

  it('ensureTopics completes on the mock cluster, auto-creating with the broker default partitions', async (t) => {
    if (!broker.mock) return t.skip('a real broker creates the topic as asked');
    const name = uniqueName('ensured');
    const warnings: string[] = [];
    const result = await ensureTopics({
      client, adminTimeoutMs: 1000, log: { warn: (m) => warnings.push(m) },
      topics: [{ name, partitions: 12, config: { 'cleanup.policy': 'compact' } }],
    });
    assert.deepEqual(result, [{ name, outcome: 'auto-created', partitions: 4 }]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /not applied/);
  });

  // The mock cluster answers TxnOffsetCommit without storing the offsets (librdkafka
  // rdkafka_mock_handlers.c, rd_kafka_mock_handle_TxnOffsetCommit), so offsets are checked only on a real cluster.
  it('exactly-once: a read_committed reader sees every transformed output, and on a real cluster the group offsets moved', async () => {
    const input = uniqueName('eos-in');
    const output = uniqueName('eos-out');
    const groupId = uniqueName('eos');
    const count = 40;
    const realCluster = !broker.mock;
    // A subscription to a topic that does not exist yet is only noticed at the next metadata refresh.
    await ensureTopics({ client, embedded: !realCluster, topics: [{ name: output, partitions: 4 }], log: { warn: () => {} } });
    await producer.send(Array.from({ length: count }, (_, i) => ({ topic: input, partition: i % 2, key: `k${i}`, value: Buffer.from(`v${i}`) })));
    const processor = startExactlyOnce({
      client, groupId, topics: [input], transactionalId: uniqueName('txn'), maxBatch: 100, batchTimeoutMs: 200,
      sessionTimeoutMs: 3000,
      transform: (r) => [{ topic: output, key: r.key, value: Buffer.from(r.value!.toString().toUpperCase()) }],
    });
    try {
      const outputs = await readRecords(client, uniqueName('g'), output, count, FAST_REJOIN);
      assert.deepEqual(outputs.map((r) => r.value!.toString()).sort(), Array.from({ length: count }, (_, i) => `V${i}`).sort());
    } finally {
      await processor.close();
    }
    if (realCluster) {
      const committed = await committedOffsets(client, groupId, input, 2);
      assert.deepEqual([committed.get(0), committed.get(1)], [count / 2, count / 2]);
    }
  });
});
