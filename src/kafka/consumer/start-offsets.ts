import type { TopicPartitionOffset, WatermarkOffsets } from '@confluentinc/kafka-javascript';
import { z } from 'zod';
import { callbackToPromise, kafkaError, type NativeConsumer } from '../client/native.js';

/**
 * Where a reader that assigns partitions itself starts each one: the first record kept, the next
 * record written, the first record at or after a time, or explicit next offsets per topic and
 * partition (a cursor saved by an earlier reader). A partition the offsets do not name starts at its
 * first record, so a partition added since the cursor was saved is read whole.
 */
export const startPositionSchema = z.union([
  z.literal('beginning'),
  z.literal('end'),
  z.object({ timestampMs: z.number().int().nonnegative() }).strict(),
  z.object({ offsets: z.record(z.string(), z.record(z.string(), z.number().int().nonnegative())) }).strict(),
]);

export type StartPosition = z.infer<typeof startPositionSchema>;

/** One partition's numeric start: the offset of the next record it hands out. */
export interface PartitionStart {
  topic: string;
  partition: number;
  offset: number;
}

const QUERY_TIMEOUT_MS = 10_000;

/**
 * The numeric offset each partition starts at. Numbers rather than librdkafka's logical offsets
 * (-1, -2), so a reader knows its position before its first record: a live reader that joins a
 * shared stream compares positions, and an empty partition has no record to tell it.
 *
 * An explicit offset below the partition's first kept record (deleted by retention) starts at that
 * record; one past its end (a recreated topic) starts at its end.
 */
export async function resolveStartOffsets(
  consumer: NativeConsumer, partitions: readonly { topic: string; partition: number }[], start: StartPosition,
): Promise<PartitionStart[]> {
  const watermarks = await Promise.all(partitions.map(({ topic, partition }) => watermarksOf(consumer, topic, partition)));
  if (typeof start === 'object' && 'timestampMs' in start) {
    const found = await offsetsForTime(consumer, partitions, start.timestampMs);
    // -1 says no record is at or after that time, but librdkafka's mock cluster answers -1 to every
    // time lookup: trusting it would skip records, so such a partition is read from its start and
    // the reader drops the older records itself (see `startsAtTime`).
    return partitions.map((p, i) => ({ ...p, offset: clamp(found[i] ?? -1, watermarks[i]!, watermarks[i]!.lowOffset) }));
  }
  return partitions.map((p, i) => {
    const marks = watermarks[i]!;
    if (start === 'beginning') return { ...p, offset: marks.lowOffset };
    if (start === 'end') return { ...p, offset: marks.highOffset };
    const saved = start.offsets[p.topic]?.[String(p.partition)];
    return { ...p, offset: clamp(saved ?? marks.lowOffset, marks, marks.lowOffset) };
  });
}

/**
 * Records a reader started from `start` hands out: with a time, a record written before it is
 * dropped (a partition whose time lookup failed is read from its start).
 */
export function startsAtTime(start: StartPosition): number | undefined {
  return typeof start === 'object' && 'timestampMs' in start ? start.timestampMs : undefined;
}

function clamp(offset: number, marks: WatermarkOffsets, whenUnknown: number): number {
  if (offset < 0) return whenUnknown;
  return Math.min(Math.max(offset, marks.lowOffset), marks.highOffset);
}

function watermarksOf(consumer: NativeConsumer, topic: string, partition: number): Promise<WatermarkOffsets> {
  return callbackToPromise<WatermarkOffsets>(
    (done) => consumer.queryWatermarkOffsets(topic, partition, QUERY_TIMEOUT_MS, done),
    (err) => kafkaError('KAFKA_CONSUME_FAILED', `could not read the offsets of ${topic}/${partition}`, err, { topic, partition }),
  );
}

async function offsetsForTime(consumer: NativeConsumer, partitions: readonly { topic: string; partition: number }[], timestampMs: number): Promise<number[]> {
  const found = await callbackToPromise<TopicPartitionOffset[]>(
    (done) => consumer.offsetsForTimes(partitions.map((p) => ({ ...p, offset: timestampMs })), QUERY_TIMEOUT_MS, done),
    (err) => kafkaError('KAFKA_CONSUME_FAILED', `could not look up the offsets at ${new Date(timestampMs).toISOString()}`, err, { timestampMs }),
  );
  return partitions.map((p) => found.find((f) => f.topic === p.topic && f.partition === p.partition)?.offset ?? -1);
}
