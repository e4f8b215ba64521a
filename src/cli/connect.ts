import { createAvroCodec, openSchemaRegistry, type AvroCodec, type SchemaRegistry } from '../avro/index.js';
import type { Settings } from '../config/settings.js';
import { clientConfigFromSettings, resolveBrokers, type KafkaClientConfig, type ResolvedBrokers } from '../kafka/index.js';

/**
 * librdkafka properties every tracestream client shares: a trace event can be several MB (up to the
 * traceBytes limit, before compression), and consumers must see topics that other processes
 * auto-create within seconds, not after the default 5 minutes.
 */
export const TRACESTREAM_CLIENT_PROPERTIES = {
  'message.max.bytes': 32 * 1024 * 1024,
  'topic.metadata.refresh.interval.ms': 2000,
} as const;

/** A command's link to Kafka and the schema registry; `close` lets go of all of it, in reverse order. */
export interface Connection {
  brokers: ResolvedBrokers;
  client: KafkaClientConfig;
  registry: SchemaRegistry;
  codec: AvroCodec;
  close(): Promise<void>;
}

/** KAFKA_BROKERS (or the embedded mock cluster), plus SCHEMA_REGISTRY_URL (or the built-in registry). */
export async function connect(settings: Settings): Promise<Connection> {
  const brokers = await resolveBrokers(settings);
  try {
    const client: KafkaClientConfig = {
      ...clientConfigFromSettings(settings, brokers.bootstrapServers),
      librdkafka: TRACESTREAM_CLIENT_PROPERTIES,
    };
    const registry = await openSchemaRegistry({ schemaRegistryUrl: settings.schemaRegistryUrl, brokers: brokers.bootstrapServers });
    return {
      brokers, client, registry, codec: createAvroCodec(registry),
      async close() {
        try {
          await registry.close();
        } finally {
          await brokers.teardown();
        }
      },
    };
  } catch (error) {
    await brokers.teardown();
    throw error;
  }
}
