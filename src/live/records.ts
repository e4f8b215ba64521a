import { randomUUID } from 'node:crypto';
import { Observable } from 'rxjs';
import { z } from 'zod';
import type { AvroCodec } from '../avro/index.js';
import { describeError, isTracestreamError } from '../errors/index.js';
import { kafkaSource, type KafkaClientConfig, type KafkaLogger, type PartitionStart } from '../kafka/index.js';
import { clientConfigSchema, parseOptions, topicNameSchema } from '../kafka/client/config.js';
import { LIVE_STREAMS, liveFromSchema, startPositionOf, type LiveEventOf, type LiveStream } from './streams.js';

export const liveReaderSchema = z.object({
  client: clientConfigSchema,
  codec: z.custom<AvroCodec>((v) => typeof v === 'object' && v !== null && typeof (v as AvroCodec).decode === 'function', 'an AvroCodec'),
  /** The Kafka topic; default: the trace topology's (`traces`, `diffs`). */
  topic: topicNameSchema.optional(),
  from: liveFromSchema.default('now'),
  /** Records read ahead of the subscriber per partition. */
  maxInFlightPerPartition: z.number().int().positive().default(256),
  /**
   * How long to wait for a topic nobody has written yet. A live reader is often started before the
   * topology that writes its topic, so by default it waits as long as it runs.
   */
  topicWaitMs: z.number().int().nonnegative().default(365 * 24 * 3600 * 1000),
  /**
   * Records arrive from Kafka in batches and are handed out in microtasks; after this many bytes
   * the reader yields to the event loop, so sockets written to in between can drain (and readers in
   * the same process can read) before the next stretch: a burst of records is not one burst of
   * writes that every client's buffer must hold at once.
   */
  yieldEveryBytes: z.number().int().positive().default(256 * 1024),
  log: z.custom<KafkaLogger>((v) => typeof v === 'object' && v !== null && typeof (v as KafkaLogger).warn === 'function').optional(),
});

export type LiveReaderOptions = z.input<typeof liveReaderSchema> & { client: KafkaClientConfig };

/** A record of a live stream: its event, or why it has none (undecodable, tombstone). */
export interface LiveRecord<S extends LiveStream = LiveStream> {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestampMs: number;
  readonly event: LiveEventOf<S> | undefined;
  /** Set when `event` is undefined. */
  readonly skipped?: string;
}

export interface LiveRecordsHooks {
  /** The numeric offset each partition starts at, before the first record. */
  onAssigned?: (starts: readonly PartitionStart[]) => void;
  /** The consumer's disconnect after unsubscribe: whoever must outlive it (a server's close) awaits it. */
  onClosing?: (closed: Promise<void>) => void;
}

/**
 * Every record of a stream's topic from `from` on, decoded, in partition order, including the ones
 * that do not decode (with the reason): a reader that tracks its position must see them pass. It
 * assigns every partition itself and joins no consumer group, so it never takes partitions from
 * a topology. One consumer per subscription; unsubscribing closes it. A record is released to
 * Kafka's read-ahead window only once the subscriber has taken it, so a slow subscriber pauses
 * the consumer instead of piling records up.
 *
 * Errors: a schema registry that cannot be reached errors the stream (SCHEMA_REGISTRY_UNAVAILABLE);
 * a record that does not decode does not.
 */
export function liveRecords<S extends LiveStream>(stream: S, options: LiveReaderOptions, hooks: LiveRecordsHooks = {}): Observable<LiveRecord<S>> {
  const config = parseOptions(liveReaderSchema, options, 'liveRecords');
  const topic = config.topic ?? LIVE_STREAMS[stream].defaultTopic;
  const eventType = LIVE_STREAMS[stream].eventType;
  return new Observable<LiveRecord<S>>((subscriber) => {
    const source = kafkaSource({
      client: config.client,
      // Never used to join or commit (assignAllPartitions); unique so it can never collide with one that is.
      groupId: `tracestream-live-${randomUUID()}`,
      topics: [topic],
      assignAllPartitions: true,
      startAt: startPositionOf(config.from, topic),
      ...(hooks.onAssigned === undefined ? {} : { onAssigned: hooks.onAssigned }),
      maxInFlightPerPartition: config.maxInFlightPerPartition,
      topicWaitMs: config.topicWaitMs,
      ...(config.log === undefined ? {} : { log: config.log }),
    });
    // Chained, so records reach the subscriber in the order they arrived although decoding is asynchronous.
    let decoded: Promise<void> = Promise.resolve();
    let bytesSinceYield = 0;
    const subscription = source.records.subscribe({
      next: (record) => {
        decoded = decoded.then(async () => {
          if (subscriber.closed) return;
          bytesSinceYield += record.value?.length ?? 0;
          if (bytesSinceYield >= config.yieldEveryBytes) {
            bytesSinceYield = 0;
            await new Promise((resolve) => setImmediate(resolve));
            if (subscriber.closed) return;
          }
          const place = { topic: record.topic, partition: record.partition, offset: Number(record.offset), timestampMs: record.timestampMs };
          if (record.value === null) {
            subscriber.next({ ...place, event: undefined, skipped: 'tombstone (no value)' });
          } else {
            try {
              const event = (await options.codec.decode(record.value, eventType)) as LiveEventOf<S>;
              if (!subscriber.closed) subscriber.next({ ...place, event });
            } catch (error) {
              if (isTracestreamError(error) && error.retriable) throw error;
              if (!subscriber.closed) subscriber.next({ ...place, event: undefined, skipped: `undecodable ${eventType}: ${describeError(error)}` });
            }
          }
          record.ack();
        }).catch((error: unknown) => subscriber.error(error));
      },
      error: (error: unknown) => subscriber.error(error),
      complete: () => void decoded.then(() => subscriber.complete()),
    });
    return () => {
      subscription.unsubscribe();
      // The same close the unsubscribe began (idempotent); it was logged there if it fails.
      hooks.onClosing?.(source.close().catch(() => undefined));
    };
  });
}
