import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { firstValueFrom, take, toArray } from 'rxjs';
import Kafka from '@confluentinc/kafka-javascript';
import { createProducer, kafkaSource, type ConsumedRecord, type KafkaClientConfig, type KafkaProducer, type KafkaSourceOptions } from '../../src/kafka/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

/** The mock cluster makes a rejoining group wait a session timeout for the departed member. */
export const FAST_REJOIN = { sessionTimeoutMs: 3000, heartbeatIntervalMs: 500 } as const;

export function clientFor(bootstrapServers: string): KafkaClientConfig {
  return { bootstrapServers, clientId: 'tracestream-test' };
}

export interface KafkaFixture {
  broker: TestBroker;
  client: KafkaClientConfig;
  producer: KafkaProducer;
}

/**
 * A broker and a producer for the enclosing `describe`: started before its tests, handed to
 * `use`, and stopped after them (the broker must exit 0).
 */
export function useKafkaFixture(use: (fixture: KafkaFixture) => void): void {
  let fixture: KafkaFixture | undefined;
  before(async () => {
    const broker = await startTestBroker();
    const client = clientFor(broker.bootstrapServers);
    fixture = { broker, client, producer: await createProducer({ client }) };
    use(fixture);
  });
  after(async () => {
    if (fixture === undefined) return;
    await fixture.producer.close();
    assert.equal(await fixture.broker.stop(), 0, 'the test broker exits 0 when stopped');
  });
}

/** Reads `count` records with a fresh group, acks them all, closes the consumer, returns them. */
export async function readRecords(
  client: KafkaClientConfig,
  groupId: string,
  topic: string,
  count: number,
  extra: Partial<KafkaSourceOptions> = {},
): Promise<ConsumedRecord[]> {
  const source = kafkaSource({ client, groupId, topics: [topic], ...extra });
  try {
    const records = await firstValueFrom(source.records.pipe(take(count), toArray()));
    for (const record of records) record.ack();
    return records;
  } finally {
    await source.close();
  }
}

/** The group's committed offset per partition (-1001 when none), read with the plain client. */
export async function committedOffsets(client: KafkaClientConfig, groupId: string, topic: string, partitions: number): Promise<Map<number, number>> {
  const consumer = new Kafka.KafkaConsumer({ 'bootstrap.servers': client.bootstrapServers, 'group.id': groupId }, {});
  await new Promise<void>((resolve, reject) => consumer.connect({}, (err) => (err ? reject(err) : resolve())));
  try {
    const toppars = Array.from({ length: partitions }, (_, partition) => ({ topic, partition }));
    const offsets = await new Promise<{ partition: number; offset: number }[]>((resolve, reject) => {
      consumer.committed(toppars, 10_000, (err, result) => (err ? reject(err) : resolve(result)));
    });
    return new Map(offsets.map((o) => [o.partition, o.offset]));
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
}
