import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Kafka from '@confluentinc/kafka-javascript';
import { kafkaSource, type ConsumedRecord, type KafkaClientConfig, type KafkaLogger, type KafkaProducer } from '../../src/kafka/index.js';
import { isTracestreamError } from '../../src/errors/index.js';
import { uniqueName, type TestBroker } from '../helpers/broker.js';
import { FAST_REJOIN, committedOffsets, readRecords, useKafkaFixture } from './support.js';
import { until } from './wait.js';

interface Warning {
  message: string;
  details: Record<string, unknown>;
}

const recordingLog = (warnings: Warning[]): KafkaLogger => ({
  warn: (message, details = {}) => warnings.push({ message, details }),
});

describe('kafkaSource commits count only once the broker confirmed them', () => {
  let broker: TestBroker;
  let client: KafkaClientConfig;
  let producer: KafkaProducer;

  useKafkaFixture((fixture) => ({ broker, client, producer } = fixture));

  /** Polls the group's committed offsets until `want` holds for them. */
  const untilCommitted = async (groupId: string, topic: string, partitions: number, want: (committed: Map<number, number>) => boolean, what: string): Promise<Map<number, number>> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const committed = await committedOffsets(client, groupId, topic, partitions);
      if (want(committed)) return committed;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; committed: ${JSON.stringify([...committed])}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  it('acked offsets are committed while the source runs, as a fresh consumer of the group reads back', { timeout: 60_000 }, async () => {
    const topic = uniqueName('commit-ok');
    const groupId = uniqueName('g');
    await producer.send([0, 1].flatMap((partition) => Array.from({ length: 3 }, (_, i) => ({ topic, partition, key: null, value: Buffer.from(`${partition}-${i}`) }))));
    const warnings: Warning[] = [];
    const source = kafkaSource({ client, groupId, topics: [topic], commitIntervalMs: 100, log: recordingLog(warnings), ...FAST_REJOIN });
    const received: ConsumedRecord[] = [];
    const subscription = source.records.subscribe((record) => received.push(record));
    try {
      await until(() => received.length === 6, 'the six records');
      for (const record of received) record.ack();
      await untilCommitted(groupId, topic, 2, (c) => c.get(0) === 3 && c.get(1) === 3, 'offset 3 committed on both partitions');
      assert.deepEqual(warnings, [], 'no commit failed');
    } finally {
      subscription.unsubscribe();
      await source.close();
    }
  });

  // The mock keeps classic and KIP-848 groups apart but looks a commit's group up among the classic
  // ones first: once a classic member has used a group id, every commit a KIP-848 member of that id
  // sends is refused with UNKNOWN_MEMBER_ID, while its heartbeats and fetches go on. On a real broker
  // the KIP-848 member could not join such a group at all, so this test needs the mock.
  it('a commit the broker refuses is logged with its error, retried at the next interval, not counted as committed, and fails close()', { timeout: 90_000 }, async (t) => {
    if (!broker.mock) {
      t.skip('needs the mock cluster, which refuses the commits of a KIP-848 member of a classic group');
      return;
    }
    const topic = uniqueName('commit-refused');
    const groupId = uniqueName('g');
    await producer.send(Array.from({ length: 4 }, (_, i) => ({ topic, partition: 0, key: null, value: Buffer.from(String(i)) })));
    // A classic member reads and commits the first record, which leaves a classic group behind.
    await readRecords(client, groupId, topic, 1, FAST_REJOIN);
    assert.equal((await committedOffsets(client, groupId, topic, 1)).get(0), 1);

    const warnings: Warning[] = [];
    const source = kafkaSource({ client, groupId, topics: [topic], groupProtocol: 'consumer', commitIntervalMs: 100, commitTimeoutMs: 5000, log: recordingLog(warnings) });
    const received: ConsumedRecord[] = [];
    const subscription = source.records.subscribe((record) => received.push(record));
    const refused = (message: string) => warnings.filter((w) => w.message === message
      && w.details['librdkafkaCode'] === Kafka.CODES.ERRORS.ERR_UNKNOWN_MEMBER_ID
      && JSON.stringify(w.details['offsets']) === JSON.stringify([{ topic, partition: 0, offset: 4 }]));
    let closed: unknown;
    try {
      await until(() => received.length === 3, 'the three uncommitted records');
      assert.deepEqual(received.map((r) => r.offset), ['1', '2', '3']);
      for (const record of received) record.ack();
      await until(() => refused('periodic commit failed; retried at the next interval').length >= 2, 'the refused commit of offset 4 to be logged twice');
      assert.equal((await committedOffsets(client, groupId, topic, 1)).get(0), 1, 'the group still has the classic member\'s commit');
    } finally {
      subscription.unsubscribe();
      closed = await source.close().then(() => undefined, (error: unknown) => error);
    }
    assert.ok(isTracestreamError(closed, 'KAFKA_COMMIT_FAILED'), `close() rejects with KAFKA_COMMIT_FAILED (got ${String(closed)})`);
    assert.equal(refused('close commit failed; giving up').length, 1, 'the refused final commit is logged once: a refusal only a rejoin fixes is not retried');
    assert.equal((await committedOffsets(client, groupId, topic, 1)).get(0), 1);
  });
});
