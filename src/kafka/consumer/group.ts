import { z } from 'zod';
import type { ConsumerGlobalConfig, LibrdKafkaError, TopicPartition } from '@confluentinc/kafka-javascript';
import { clientConfigSchema, nativeClientConfig, topicNameSchema, type KafkaLogger } from '../client/config.js';
import { KafkaConsumer, callbackToPromise, kafkaError, type NativeConsumer } from '../client/native.js';
import { attachObserver, consumerObserverSchema, observerClientConfig } from './observer.js';

/**
 * The consumer base every consumer group member of ours shares (the at-least-once source and the
 * exactly-once processor): one schema for group membership, one heartbeat rule, one way to connect.
 */
export const consumerGroupShape = {
  client: clientConfigSchema,
  groupId: z.string().min(1),
  topics: z.array(topicNameSchema).min(1),
  /** Where a group with no committed offset starts: earliest (our pipelines) or latest. */
  fromBeginning: z.boolean().default(true),
  /**
   * A member silent this long is dropped from the group. On the mock cluster a rejoining group also
   * waits this long for a departed member (its LeaveGroup is not honoured), so tests lower it.
   */
  sessionTimeoutMs: z.number().int().positive().default(45_000),
  /** Default: a third of sessionTimeoutMs, at most 3 s (Kafka's own default). */
  heartbeatIntervalMs: z.number().int().positive().optional(),
  /**
   * Consumer group protocol. 'classic' works with every broker. 'consumer' (KIP-848, Kafka 4.0+ and
   * the mock cluster) assigns partitions without the classic protocol's initial rebalance delay
   * (3 s); its session timeout and heartbeat are set by the broker, so they are not sent with it.
   */
  groupProtocol: z.enum(['classic', 'consumer']).default('classic'),
  /**
   * Longest a fetch request waits at the broker for new records. Brokers answer at once when data
   * arrives, except the mock cluster, which waits it out: its default (500 ms) was most of the
   * produce-to-consume latency there.
   */
  fetchWaitMaxMs: z.number().int().positive().max(10_000).default(100),
  /** How long connecting (the first metadata answer) may take before it fails. */
  connectTimeoutMs: z.number().int().positive().default(30_000),
  /**
   * How often the cluster is asked for metadata, so that dead brokers are noticed even while
   * nothing is read (librdkafka itself retries them forever, silently).
   */
  clusterProbeIntervalMs: z.number().int().positive().default(5_000),
  /**
   * How long no broker may answer (probed again with backoff meanwhile; readiness is false) before
   * the consumer stops with KAFKA_DISCONNECTED.
   */
  clusterDownTimeoutMs: z.number().int().positive().default(60_000),
  log: z.custom<KafkaLogger>((v) => typeof v === 'object' && v !== null && typeof (v as KafkaLogger).warn === 'function').optional(),
  /** Sees assignments and librdkafka's statistics (lag, broker states): a process's readiness and metrics. */
  observer: consumerObserverSchema.optional(),
};

type GroupFields = { sessionTimeoutMs: number; heartbeatIntervalMs?: number | undefined };

/** The one heartbeat rule: the broker drops a member after about three missed heartbeats. */
export function heartbeatIntervalOf(config: GroupFields): number {
  return config.heartbeatIntervalMs ?? Math.min(3_000, Math.floor(config.sessionTimeoutMs / 3));
}

/** Adds the cross-field rule to a consumer schema built from `consumerGroupShape`. */
export function withHeartbeatRule<S extends z.ZodType<GroupFields>>(schema: S): S {
  return schema.refine((o) => heartbeatIntervalOf(o) * 3 <= o.sessionTimeoutMs, {
    message: 'heartbeatIntervalMs must be at most a third of sessionTimeoutMs', path: ['heartbeatIntervalMs'],
  }) as unknown as S;
}

export type ConsumerGroupConfig = z.output<z.ZodObject<typeof consumerGroupShape>>;
/** Group membership options a caller may tune (everything but where and what to read). */
export type ConsumerGroupTuning = Partial<Omit<z.input<z.ZodObject<typeof consumerGroupShape>>, 'client' | 'groupId' | 'topics'>>;

export interface GroupConsumerHooks {
  /** librdkafka's client.id suffix (`<clientId>-<role>`). */
  role: string;
  rebalance(err: LibrdKafkaError, assignment: TopicPartition[]): void;
  /** Extra librdkafka properties of this consumer (commit callbacks, offset store). */
  properties?: ConsumerGlobalConfig;
}

/** A native consumer of the group, configured by the one set of rules; not yet connected. */
export function createGroupConsumer(config: ConsumerGroupConfig, hooks: GroupConsumerHooks): NativeConsumer {
  const consumer = new KafkaConsumer(
    {
      ...nativeClientConfig(config.client, hooks.role),
      'group.id': config.groupId,
      'enable.auto.commit': false,
      'isolation.level': 'read_committed',
      'fetch.wait.max.ms': config.fetchWaitMaxMs,
      ...(config.groupProtocol === 'consumer'
        ? { 'group.protocol': 'consumer' }
        : { 'session.timeout.ms': config.sessionTimeoutMs, 'heartbeat.interval.ms': heartbeatIntervalOf(config) }),
      rebalance_cb: hooks.rebalance,
      ...observerClientConfig(config.observer),
      ...hooks.properties,
    },
    { 'auto.offset.reset': config.fromBeginning ? 'earliest' : 'latest' },
  );
  attachObserver(consumer, config.observer);
  return consumer;
}

/** Connects within connectTimeoutMs; fails with KAFKA_CONNECT_FAILED naming the group and the cluster. */
export function connectGroupConsumer(consumer: NativeConsumer, config: ConsumerGroupConfig): Promise<void> {
  return callbackToPromise(
    (done) => consumer.connect({ timeout: config.connectTimeoutMs }, (err) => done(err)),
    (err) => kafkaError('KAFKA_CONNECT_FAILED', `consumer of group ${config.groupId} could not connect to ${config.client.bootstrapServers}`, err),
  );
}

/** Disconnects; a failure is KAFKA_DISCONNECTED (the work is done, the goodbye failed). */
export function disconnectGroupConsumer(consumer: NativeConsumer, config: ConsumerGroupConfig): Promise<void> {
  return callbackToPromise(
    (done) => consumer.disconnect((err: LibrdKafkaError | null) => done(err)),
    (err) => kafkaError('KAFKA_DISCONNECTED', `consumer of group ${config.groupId} did not disconnect cleanly`, err),
  );
}
