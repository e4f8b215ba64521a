import kafka from '@confluentinc/kafka-javascript';

/**
 * A Kafka cluster for tests: the mock cluster built into librdkafka, hosted by an idle producer
 * created with `test.mock.num.brokers`. Other clients reach it through `bootstrapServers`
 * (loopback). Topics are auto-created (4 partitions); CreateTopics is not supported.
 */
export interface MockCluster {
  bootstrapServers: string;
  close(): Promise<void>;
}

export async function startMockCluster(): Promise<MockCluster> {
  // A test-only librdkafka property, absent from the typed config.
  const config: Record<string, unknown> = { 'test.mock.num.brokers': 1, 'client.id': 'mock-cluster-host' };
  const host = new kafka.Producer(config as kafka.ProducerGlobalConfig);
  await new Promise<void>((resolve, reject) => host.connect({ timeout: 10_000 }, (e) => (e ? reject(e) : resolve())));
  const metadata = await new Promise<kafka.Metadata>((resolve, reject) =>
    host.getMetadata({ timeout: 10_000 }, (e, m) => (e ? reject(e) : resolve(m))),
  );
  return {
    bootstrapServers: metadata.brokers.map((b) => `${b.host}:${b.port}`).join(','),
    close: () => new Promise<void>((resolve, reject) => host.disconnect((e: unknown) => (e ? reject(e) : resolve()))),
  };
}
