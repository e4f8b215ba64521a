import { TracestreamError } from '../errors/index.js';
import { ConfluentSchemaRegistry } from './confluent-registry.js';
import { openKafkaSchemaRegistry } from './kafka-registry.js';
import type { SchemaRegistry } from './registry.js';

export interface OpenSchemaRegistryOptions {
  /** A Confluent-compatible Schema Registry; unset: the built-in registry topic. */
  schemaRegistryUrl?: string | undefined;
  /** bootstrap.servers of the cluster; needed for the built-in registry (no schemaRegistryUrl). */
  brokers?: string;
  /** librdkafka properties of the built-in registry's clients (security settings). */
  kafkaConfig?: Record<string, string | number | boolean>;
}

/**
 * The Schema Registry at `schemaRegistryUrl`, or, when it is unset, the built-in registry in the
 * cluster at `brokers`.
 *
 * @example
 * const registry = await openSchemaRegistry({ schemaRegistryUrl, brokers })
 * try { ... } finally { await registry.close() }
 */
export async function openSchemaRegistry(options: OpenSchemaRegistryOptions): Promise<SchemaRegistry> {
  if (options.schemaRegistryUrl !== undefined) return new ConfluentSchemaRegistry(options.schemaRegistryUrl);
  if (options.brokers === undefined) {
    throw new TracestreamError('CONFIG_INVALID', 'brokers: the built-in schema registry (used when --schema-registry / SCHEMA_REGISTRY_URL is unset) needs the cluster\'s bootstrap servers');
  }
  return openKafkaSchemaRegistry({ brokers: options.brokers, ...(options.kafkaConfig === undefined ? {} : { kafkaConfig: options.kafkaConfig }) });
}
