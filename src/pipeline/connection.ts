import { createAvroCodec, openSchemaRegistry, type AvroCodec, type SchemaRegistry } from '../avro/index.js';
import { resolveBrokers, TRACESTREAM_CLIENT_PROPERTIES, type KafkaClientConfig, type ResolvedBrokers } from '../kafka/index.js';

export interface OpenConnectionOptions {
  /** `host:port,...` of an external cluster; unset: an embedded mock cluster is started. */
  bootstrapServers?: string | undefined;
  /** Brokers of the embedded cluster when one is started (default 1). */
  embeddedBrokers?: number | undefined;
  /** client.id our clients send to the brokers (each adds its role). */
  clientId: string;
  /** A Confluent-compatible Schema Registry; unset: the built-in registry topic. */
  schemaRegistryUrl?: string | undefined;
  /** librdkafka properties every client of the connection adds (security: protocol, SASL login, CA). */
  clientProperties?: Readonly<Record<string, string | number | boolean>> | undefined;
}

/** A program's link to Kafka and the schema registry; `close` lets go of all of it, in reverse order. */
export interface Connection {
  brokers: ResolvedBrokers;
  client: KafkaClientConfig;
  registry: SchemaRegistry;
  codec: AvroCodec;
  close(): Promise<void>;
}

/**
 * The cluster (or an embedded mock one), its schema registry and a codec over it.
 *
 * @example
 * const connection = await openConnection({ clientId: 'my-tool' })
 * try { await produceSolutions(connection.client, connection.codec, 'solutions', solutions) }
 * finally { await connection.close() }
 */
export async function openConnection(options: OpenConnectionOptions): Promise<Connection> {
  const brokers = await resolveBrokers({ bootstrapServers: options.bootstrapServers, embeddedBrokers: options.embeddedBrokers });
  try {
    const client: KafkaClientConfig = {
      bootstrapServers: brokers.bootstrapServers,
      clientId: options.clientId,
      librdkafka: { ...options.clientProperties, ...TRACESTREAM_CLIENT_PROPERTIES },
    };
    const registry = await openSchemaRegistry({
      schemaRegistryUrl: options.schemaRegistryUrl, brokers: brokers.bootstrapServers,
      ...(options.clientProperties === undefined ? {} : { kafkaConfig: { ...options.clientProperties } }),
    });
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
