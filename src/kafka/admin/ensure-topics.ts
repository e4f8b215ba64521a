import { z } from 'zod';
import type { LibrdKafkaError } from '@confluentinc/kafka-javascript';
import { AdminClient, CODES, Producer, awaitPartitionCount, callbackToPromise, isTimeout, kafkaError } from '../client/native.js';
import { clientConfigSchema, nativeClientConfig, parseOptions, stderrLogger, topicNameSchema, type KafkaClientConfig, type KafkaLogger } from '../client/config.js';

const topicSpecSchema = z.object({
  name: topicNameSchema,
  partitions: z.number().int().positive(),
  replicationFactor: z.number().int().positive().default(1),
  /** Topic configs, e.g. { 'retention.ms': '604800000', 'cleanup.policy': 'compact' }. */
  config: z.record(z.string(), z.string()).default({}),
});

export type TopicSpec = z.input<typeof topicSpecSchema>;

const ensureSchema = z.object({
  client: clientConfigSchema,
  topics: z.array(topicSpecSchema),
  /**
   * True for the embedded mock cluster (`resolveBrokers().embedded`): it has no CreateTopics, so
   * we skip straight to auto-creation instead of waiting for the create call to time out.
   */
  embedded: z.boolean().default(false),
  /** Bound on each admin call; a cluster that never answers CreateTopics costs this once. */
  adminTimeoutMs: z.number().int().positive().default(5_000),
  log: z.custom<KafkaLogger>((v) => typeof v === 'object' && v !== null).optional(),
});

export type EnsureTopicsOptions = z.input<typeof ensureSchema>;

export interface EnsuredTopic {
  name: string;
  /** 'existed', 'created' (with the spec's partitions and config), or 'auto-created' (broker defaults). */
  outcome: 'existed' | 'created' | 'auto-created';
  partitions: number;
}

const TOPIC_ALREADY_EXISTS = 36;

/**
 * Creates the topics that do not exist yet. On a cluster without CreateTopics (the librdkafka
 * mock: the call times out) the topic is auto-created by a metadata request instead, with the
 * broker's defaults (4 partitions on the mock); the spec's partitions/config are then not applied
 * and a warning says so. Measured on the mock: CreateTopics never answers (fails after
 * adminTimeoutMs with a local timeout); auto-creation by metadata takes ~50 ms.
 *
 * @example
 * await ensureTopics({ client, embedded, topics: [{ name: 'steps', partitions: 12, config: { 'cleanup.policy': 'compact' } }] })
 */
export async function ensureTopics(options: EnsureTopicsOptions): Promise<EnsuredTopic[]> {
  const config = parseOptions(ensureSchema, options, 'ensureTopics');
  const log = config.log ?? stderrLogger;
  if (config.topics.length === 0) return [];
  const admin = AdminClient.create(nativeClientConfig(config.client, 'admin'));
  const results: EnsuredTopic[] = [];
  try {
    const existing = new Set(await callbackToPromise<string[]>(
      (done) => admin.listTopics({ timeout: config.adminTimeoutMs }, done),
      (err) => kafkaError('KAFKA_ADMIN_FAILED', 'could not list topics', err),
    ));
    let createUnsupported = config.embedded;
    const toAutoCreate: z.output<typeof topicSpecSchema>[] = [];
    for (const spec of config.topics) {
      if (existing.has(spec.name)) {
        results.push({ name: spec.name, outcome: 'existed', partitions: -1 });
        continue;
      }
      if (createUnsupported) {
        toAutoCreate.push(spec);
        continue;
      }
      try {
        await callbackToPromise(
          (done) => admin.createTopic(
            { topic: spec.name, num_partitions: spec.partitions, replication_factor: spec.replicationFactor, config: spec.config },
            config.adminTimeoutMs,
            (err: LibrdKafkaError) => done(err),
          ),
          (err) => kafkaError('KAFKA_ADMIN_FAILED', `could not create topic ${spec.name}`, err, { topic: spec.name }),
        );
        results.push({ name: spec.name, outcome: 'created', partitions: spec.partitions });
      } catch (error) {
        const code = (error as { cause?: LibrdKafkaError }).cause?.code;
        if (code === TOPIC_ALREADY_EXISTS) {
          results.push({ name: spec.name, outcome: 'existed', partitions: -1 });
        } else if (isTimeout((error as { cause?: unknown }).cause) || code === CODES.ERRORS.ERR__UNSUPPORTED_FEATURE) {
          createUnsupported = true;
          toAutoCreate.push(spec);
        } else {
          throw error;
        }
      }
    }
    // One metadata client per topic, all at once: each waits for its topic's partitions to appear.
    const autoCreated = await Promise.all(toAutoCreate.map((spec) => autoCreate(config.client, spec.name, config.adminTimeoutMs)));
    for (const [i, spec] of toAutoCreate.entries()) {
      const partitions = autoCreated[i]!;
      log.warn(`topic ${spec.name} was auto-created with the broker's defaults (${partitions} partitions); the cluster does not support CreateTopics, so partitions=${spec.partitions}, replicationFactor=${spec.replicationFactor} and config ${JSON.stringify(spec.config)} were not applied`);
      results.push({ name: spec.name, outcome: 'auto-created', partitions });
    }
  } finally {
    admin.disconnect();
  }
  return results;
}

/** Auto-creates a topic with a metadata request for it and returns its partition count. */
async function autoCreate(client: KafkaClientConfig, topic: string, timeoutMs: number): Promise<number> {
  const producer = new Producer({ ...nativeClientConfig(client, 'admin-metadata'), 'allow.auto.create.topics': true });
  const connectError = (err: LibrdKafkaError) => kafkaError('KAFKA_ADMIN_FAILED', `could not auto-create topic ${topic}`, err, { topic });
  await callbackToPromise((done) => producer.connect({ timeout: timeoutMs }, (err) => done(err)), connectError);
  try {
    const partitions = await awaitPartitionCount(producer, topic, timeoutMs, connectError);
    if (partitions === 0) {
      throw kafkaError('KAFKA_ADMIN_FAILED', `topic ${topic} is missing and the cluster neither creates nor auto-creates it`, undefined, { topic });
    }
    return partitions;
  } finally {
    await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  }
}
