import { z } from 'zod';

/** What every Kafka client of ours needs: where the cluster is and how we name ourselves to it. */
export interface KafkaClientConfig {
  bootstrapServers: string;
  clientId: string;
  /**
   * Raw librdkafka properties merged last (e.g. security settings of a real cluster); ours win for
   * the properties our guarantees depend on (commits, idempotence, isolation).
   */
  librdkafka?: Readonly<Record<string, string | number | boolean>>;
}

export const clientConfigSchema = z.object({
  bootstrapServers: z.string().min(1),
  clientId: z.string().min(1),
  librdkafka: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
});

/**
 * librdkafka properties every tracestream client shares: a trace event can be several MB (up to the
 * traceBytes limit, before compression), and consumers must see topics that other processes
 * auto-create within seconds, not after the default 5 minutes.
 */
export const TRACESTREAM_CLIENT_PROPERTIES = {
  'message.max.bytes': 32 * 1024 * 1024,
  'topic.metadata.refresh.interval.ms': 2000,
} as const;

/** The librdkafka global properties of a client config, before role-specific ones are added. */
export function nativeClientConfig(client: KafkaClientConfig, role: string): Record<string, string | number | boolean> {
  return {
    ...client.librdkafka,
    'bootstrap.servers': client.bootstrapServers,
    'client.id': `${client.clientId}-${role}`,
  };
}

/** Where our clients report what they could not do but survived (a failed periodic commit, ...). */
export interface KafkaLogger {
  warn(message: string, details?: Record<string, unknown>): void;
}

export const stderrLogger: KafkaLogger = {
  warn(message, details) {
    process.stderr.write(`tracestream kafka: ${message}${details === undefined ? '' : ` ${JSON.stringify(details)}`}\n`);
  },
};

/** Options are validated the one way every layer validates them (src/errors/options.ts). */
export { parseOptions } from '../../errors/index.js';

export const topicNameSchema = z.string().min(1).max(249).regex(/^[a-zA-Z0-9._-]+$/, 'a topic name uses only letters, digits, ".", "_" and "-"');
