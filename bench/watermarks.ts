import Kafka from '@confluentinc/kafka-javascript';
import type { KafkaClientConfig } from '../src/kafka/index.js';

/** How many records the brokers hold in a topic, from its partitions' high watermarks. */
export async function openWatermarks(client: KafkaClientConfig, topic: string): Promise<{
  total(): Promise<number>;
  waitFor(count: number, onFirst: () => void): Promise<void>;
  close(): Promise<void>;
}> {
  const consumer = new Kafka.KafkaConsumer({ 'bootstrap.servers': client.bootstrapServers, 'group.id': `bench-watermarks-${Date.now()}` }, {});
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  const metadata = await new Promise<Kafka.Metadata>((resolve, reject) => consumer.getMetadata({ topic, timeout: 10_000 }, (err, data) => (err ? reject(err) : resolve(data))));
  const partitions = metadata.topics.find((t) => t.name === topic)?.partitions.map((p) => p.id) ?? [];
  if (partitions.length === 0) throw new Error(`${topic} has no partitions`);
  const high = (partition: number): Promise<number> => new Promise((resolve, reject) => {
    consumer.queryWatermarkOffsets(topic, partition, 10_000, (err, offsets) => (err ? reject(err) : resolve(offsets.highOffset)));
  });
  const total = async (): Promise<number> => (await Promise.all(partitions.map(high))).reduce((a, b) => a + b, 0);
  return {
    total,
    async waitFor(count, onFirst) {
      for (;;) {
        const stored = await total();
        if (stored > 0) onFirst();
        if (stored >= count) return;
        // Every 50 ms: late by at most 0.1% of a minute-long round, and 80 watermark requests a second.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close: () => new Promise<void>((resolve) => consumer.disconnect(() => resolve())),
  };
}

