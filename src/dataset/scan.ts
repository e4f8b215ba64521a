import { randomUUID } from 'node:crypto';
import type { EofEvent, LibrdKafkaError, Message, TopicPartitionOffset, WatermarkOffsets } from '@confluentinc/kafka-javascript';
import { TracestreamError } from '../errors/index.js';
import { KafkaConsumer, awaitPartitionIds, callbackToPromise, kafkaError, waitOnlyForFirstMessage, type NativeConsumer } from '../kafka/client/native.js';
import { nativeClientConfig, type KafkaClientConfig } from '../kafka/client/config.js';

/** Where a scan starts in each partition. */
export type ScanStart =
  | { from: 'beginning' }
  /** The first record at or after this time (ms since the epoch); partitions with none start at their end. */
  | { from: 'timestamp'; timestampMs: number }
  /**
   * Saved next offsets by topic, then partition (e.g. a manifest's end offsets); partitions not
   * named start at the beginning.
   */
  | { from: 'offsets'; offsets: Readonly<Record<string, Readonly<Record<string, number>>>> };

/** The offsets a scan covers in one partition: `start` up to `end`, exclusive. */
export interface PartitionRange {
  partition: number;
  start: number;
  end: number;
}

/**
 * Names a topic's partition (map keys, spill file names): `@` is outside the characters of topic
 * names ([a-zA-Z0-9._-]), so the name splits back unambiguously.
 */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}@p${partition}`;
}

/** A `PartitionRange` of a named topic: what a scan of several topics covers. */
export interface TopicPartitionRange extends PartitionRange {
  topic: string;
}

export interface ScannedRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
}

export interface TopicScanOptions {
  client: KafkaClientConfig;
  /** Per topic and partition, what to read; resolved from `ScanStart` by `resolveScanRanges`. */
  ranges: readonly TopicPartitionRange[];
  /** Records per fetch call; also what one batch holds. */
  batchSize?: number;
  pollTimeoutMs?: number;
}

export interface TopicScan {
  /** Batches of records in offset order per partition, until every partition of every topic reached its end. */
  batches(): AsyncGenerator<ScannedRecord[]>;
  /** Idempotent; ends `batches()`. */
  close(): Promise<void>;
}

/**
 * What librdkafka may hold of records read ahead of the writer, decompressed: the scan reads only as
 * fast as the dataset is written, so more prefetch buys nothing and costs memory (librdkafka's
 * default is 64 MiB, overshot by one fetch response).
 */
export const SCAN_PREFETCH_BYTES = 16 * 1024 * 1024;
/**
 * The most one fetch response brings (compressed) over all partitions, whatever their number: each
 * partition's share is decompressed into the prefetch queue at once. A larger first batch still comes
 * whole, so a trace bigger than this is read all the same.
 */
export const SCAN_FETCH_BYTES = 4 * 1024 * 1024;

/**
 * Opens a consumer that reads partitions by assignment: it joins no consumer group and commits
 * nothing, so live topologies' groups are neither joined nor disturbed. Returns the consumer's
 * teardown with it.
 */
async function connectScanner(client: KafkaClientConfig): Promise<{ consumer: NativeConsumer; close: () => Promise<void> }> {
  const consumer = new KafkaConsumer(
    {
      ...nativeClientConfig(client, 'replay'),
      // librdkafka wants a group id even for a consumer that only assigns; it is never joined.
      'group.id': `tracestream-replay-${randomUUID()}`,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'enable.partition.eof': true,
      'isolation.level': 'read_committed',
      'fetch.wait.max.ms': 100,
      'queued.max.messages.kbytes': SCAN_PREFETCH_BYTES / 1024,
      'fetch.max.bytes': SCAN_FETCH_BYTES,
      // librdkafka refuses a fetch.max.bytes below message.max.bytes, which bounds only the requests a
      // client sends (a consumer's are small); the received size limit stays at its 100 MB default.
      'message.max.bytes': SCAN_FETCH_BYTES,
    },
    { 'auto.offset.reset': 'earliest' },
  );
  await callbackToPromise(
    (done) => consumer.connect({ timeout: 30_000 }, (err) => done(err)),
    (err) => kafkaError('KAFKA_CONNECT_FAILED', `replay could not connect to ${client.bootstrapServers}`, err),
  );
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= callbackToPromise(
      (done) => consumer.disconnect((err: LibrdKafkaError | null) => done(err)),
      (err) => kafkaError('KAFKA_CONNECT_FAILED', 'replay consumer did not disconnect cleanly', err),
    );
    return closing;
  };
  return { consumer, close };
}

/**
 * The offsets to read in each partition of `topics` (in the order given, partitions ascending): from
 * `start` up to the high watermark taken now, so a scan of topics that keep growing still ends. A
 * start below the partition's first offset (records deleted or compacted away) starts at its first
 * offset.
 */
export async function resolveScanRanges(client: KafkaClientConfig, topics: readonly string[], start: ScanStart, topicWaitMs = 10_000): Promise<TopicPartitionRange[]> {
  const { consumer, close } = await connectScanner(client);
  try {
    const ranges: TopicPartitionRange[] = [];
    for (const topic of topics) ranges.push(...await rangesOf(consumer, topic, start, topicWaitMs));
    return ranges;
  } finally {
    await close();
  }
}

async function rangesOf(consumer: NativeConsumer, topic: string, start: ScanStart, topicWaitMs: number): Promise<TopicPartitionRange[]> {
  const partitions = await partitionsOf(consumer, topic, topicWaitMs);
  const watermarks = await Promise.all(partitions.map((partition) => callbackToPromise<WatermarkOffsets>(
    (done) => consumer.queryWatermarkOffsets(topic, partition, 10_000, done),
    (err) => kafkaError('KAFKA_CONSUME_FAILED', `could not read the offsets of ${topic} partition ${partition}`, err, { topic, partition }),
  )));
  let byTime = new Map<number, number>();
  if (start.from === 'timestamp') {
    const found = await callbackToPromise<TopicPartitionOffset[]>(
      (done) => consumer.offsetsForTimes(partitions.map((partition) => ({ topic, partition, offset: start.timestampMs })), 10_000, done),
      (err) => kafkaError('KAFKA_CONSUME_FAILED', `could not look up offsets of ${topic} at ${new Date(start.timestampMs).toISOString()}`, err, { topic }),
    );
    byTime = new Map(found.map((f) => [f.partition, f.offset]));
  }
  return partitions.map((partition, i) => {
    const { lowOffset, highOffset } = watermarks[i]!;
    let from = lowOffset;
    if (start.from === 'offsets') from = start.offsets[topic]?.[String(partition)] ?? lowOffset;
    if (start.from === 'timestamp') {
      const at = byTime.get(partition) ?? -1;
      from = at < 0 ? highOffset : at;
    }
    return { topic, partition, start: Math.min(Math.max(from, lowOffset), highOffset), end: highOffset };
  });
}

/** Offsets by topic, then partition (the shape of `ScanStart`'s saved offsets): each range's `start` or `end`. */
export function offsetsByTopic(ranges: readonly TopicPartitionRange[], which: 'start' | 'end'): Record<string, Record<string, number>> {
  const offsets: Record<string, Record<string, number>> = {};
  for (const range of ranges) (offsets[range.topic] ??= {})[String(range.partition)] = range[which];
  return offsets;
}

/**
 * Each partition's end offset now, or undefined when `topic` does not exist yet: where a job that is
 * about to produce traces starts reading its own (see `tracestream trace --out`).
 */
export async function endOffsetsNow(client: KafkaClientConfig, topic: string): Promise<Record<string, number> | undefined> {
  try {
    return offsetsByTopic(await resolveScanRanges(client, [topic], { from: 'beginning' }, 0), 'end')[topic];
  } catch (error) {
    if (error instanceof TracestreamError && error.code === 'INPUT_INVALID') return undefined;
    throw error;
  }
}

async function partitionsOf(consumer: NativeConsumer, topic: string, waitMs: number): Promise<number[]> {
  const partitions = await awaitPartitionIds(consumer, topic, waitMs);
  if (partitions.length === 0) throw new TracestreamError('INPUT_INVALID', `topic ${topic} does not exist (or has no partitions)`, { details: { topic } });
  return partitions.sort((a, b) => a - b);
}

/**
 * Reads `ranges`, of one topic or several, with one consumer. Fetches happen only when the caller
 * asks for the next batch, so a slow writer holds back the reads instead of filling memory. A
 * partition is done when a record at `end - 1` arrived or the consumer reached the partition's end
 * at or past `end` (transaction markers take offsets that no record is handed out for).
 */
export async function openTopicScan(options: TopicScanOptions): Promise<TopicScan> {
  const batchSize = options.batchSize ?? 500;
  const pending = options.ranges.filter((range) => range.start < range.end);
  const ends = new Map(pending.map((range) => [partitionKey(range.topic, range.partition), range.end]));
  const topics = [...new Set(options.ranges.map((range) => range.topic))].join(', ');
  const { consumer, close } = await connectScanner(options.client);
  consumer.setDefaultConsumeTimeout(options.pollTimeoutMs ?? 100);
  waitOnlyForFirstMessage(consumer);
  // The client emits a batch's end-of-partition events before its callback gets the batch's
  // messages: they are applied once those messages are taken.
  const eofs: EofEvent[] = [];
  consumer.on('partition.eof', (eof: EofEvent) => eofs.push(eof));
  if (pending.length > 0) consumer.assign(pending.map((range) => ({ topic: range.topic, partition: range.partition, offset: range.start })));
  let closed = false;

  async function* batches(): AsyncGenerator<ScannedRecord[]> {
    while (ends.size > 0 && !closed) {
      const messages = await callbackToPromise<Message[]>(
        (done) => consumer.consume(batchSize, done),
        (err) => kafkaError('KAFKA_CONSUME_FAILED', `reading ${topics} failed`, err, { topics }),
      ).catch((error: unknown) => {
        if (error instanceof TracestreamError && error.retriable) return [] as Message[];
        throw error;
      });
      const batch: ScannedRecord[] = [];
      for (const message of messages) {
        const key = partitionKey(message.topic, message.partition);
        const end = ends.get(key);
        if (end === undefined || message.offset >= end) continue;
        batch.push({
          topic: message.topic, partition: message.partition, offset: message.offset,
          key: message.key === undefined || message.key === null ? null : Buffer.from(message.key), value: message.value,
        });
        if (message.offset >= end - 1) ends.delete(key);
      }
      for (const eof of eofs.splice(0)) {
        const key = partitionKey(eof.topic, eof.partition);
        if (eof.offset >= (ends.get(key) ?? Infinity)) ends.delete(key);
      }
      if (batch.length > 0) yield batch;
    }
  }

  return {
    batches,
    async close() {
      closed = true;
      await close();
    },
  };
}
