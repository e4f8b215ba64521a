import { z } from 'zod';
import type { Metadata, ProducerGlobalConfig } from '@confluentinc/kafka-javascript';
import { Producer, callbackToPromise, kafkaError } from '../client/native.js';
import { parseOptions } from '../client/config.js';

/** A librdkafka mock cluster running in this process; other processes reach it over loopback. */
export interface EmbeddedBroker {
  /** `host:port,...` of every mock broker, for `bootstrap.servers`. */
  readonly bootstrapServers: string;
  /** Stops the brokers; idempotent. */
  close(): Promise<void>;
}

const embeddedBrokerSchema = z.object({
  brokers: z.number().int().min(1).max(16).default(1),
  /** How long the mock cluster may take to come up. */
  startTimeoutMs: z.number().int().positive().default(10_000),
});

/**
 * Starts librdkafka's built-in mock cluster (`test.mock.num.brokers`). It speaks the Kafka protocol
 * on real loopback ports but has no CreateTopics: topics auto-create with 4 partitions on first use.
 * The cluster lives as long as the client that created it, so we keep that client open until close.
 *
 * @example
 * const broker = await startEmbeddedBroker({ brokers: 1 })
 * try { run(broker.bootstrapServers) } finally { await broker.close() }
 */
export async function startEmbeddedBroker(options: z.input<typeof embeddedBrokerSchema> = {}): Promise<EmbeddedBroker> {
  const { brokers, startTimeoutMs } = parseOptions(embeddedBrokerSchema, options, 'startEmbeddedBroker');
  // The mock-cluster property is a testing property the config type declarations leave out.
  const mockConfig: Record<string, string | number> = { 'test.mock.num.brokers': brokers, 'client.id': 'tracestream-embedded-broker' };
  const owner = new Producer(mockConfig as ProducerGlobalConfig);
  const metadata = await callbackToPromise<Metadata>(
    (done) => owner.connect({ timeout: startTimeoutMs }, done),
    (err) => kafkaError('KAFKA_CONNECT_FAILED', 'could not start the embedded mock cluster', err),
  );
  const bootstrapServers = metadata.brokers.map((b) => `${b.host}:${b.port}`).join(',');
  let closing: Promise<void> | undefined;
  return {
    bootstrapServers,
    close() {
      closing ??= new Promise<void>((resolve) => {
        owner.disconnect(() => resolve());
      });
      return closing;
    },
  };
}

/** Bootstrap servers to use, and how to let go of them. */
/**
 * What librdkafka's mock cluster keeps of a partition: about 5 MiB of record batches (as produced,
 * so compressed), the oldest dropped past it, like a size-based retention it does not let anyone
 * configure (rdkafka_mock.c). A topic of the embedded broker holds about four times this.
 */
export const EMBEDDED_PARTITION_RETENTION_BYTES = 5 * 1024 * 1024;

export interface ResolvedBrokers {
  bootstrapServers: string;
  /** True when we started the mock cluster (no CreateTopics; ~3 s per consumer-group join). */
  embedded: boolean;
  /** Stops the embedded cluster; does nothing for an external one. Idempotent. */
  teardown(): Promise<void>;
}

export interface ResolveBrokersOptions {
  /** `host:port,...` of an external cluster; unset: an embedded mock cluster is started. */
  bootstrapServers?: string | undefined;
  /** Brokers of the embedded cluster (default 1). */
  embeddedBrokers?: number | undefined;
}

/** The external cluster when one is given, otherwise an embedded mock cluster owned by the caller. */
export async function resolveBrokers(options: ResolveBrokersOptions = {}): Promise<ResolvedBrokers> {
  if (options.bootstrapServers !== undefined) {
    return { bootstrapServers: options.bootstrapServers, embedded: false, teardown: () => Promise.resolve() };
  }
  const broker = await startEmbeddedBroker(options.embeddedBrokers === undefined ? {} : { brokers: options.embeddedBrokers });
  return { bootstrapServers: broker.bootstrapServers, embedded: true, teardown: () => broker.close() };
}
