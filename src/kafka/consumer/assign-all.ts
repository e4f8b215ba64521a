import type { TopicPartitionOffset } from '@confluentinc/kafka-javascript';
import { TracestreamError } from '../../errors/index.js';
import { awaitPartitionIds, type NativeConsumer } from '../client/native.js';
import type { SourceConfig } from './source.js';
import { resolveStartOffsets } from './start-offsets.js';

/** librdkafka's logical offsets: the first and the next record of a partition. */
const OFFSET_BEGINNING = -2;
const OFFSET_END = -1;

/**
 * What a source that reads without a group (`assignAllPartitions`) assigns itself: every partition
 * of its topics, each from its saved offset, else its beginning or end (`fromBeginning`), or where
 * `startAt` says, resolved to numbers. `stopped` ends the wait for a topic that does not exist yet.
 */
export async function assignmentOfAllPartitions(
  consumer: NativeConsumer, config: SourceConfig, stopped: () => boolean,
): Promise<TopicPartitionOffset[]> {
  const assignment: TopicPartitionOffset[] = [];
  for (const topic of config.topics) {
    for (const id of await partitionsOf(consumer, topic, config.topicWaitMs, stopped)) {
      const saved = config.startOffsets[topic]?.[String(id)];
      assignment.push({ topic, partition: id, offset: saved ?? (config.fromBeginning ? OFFSET_BEGINNING : OFFSET_END) });
    }
  }
  return config.startAt === undefined ? assignment : resolveStartOffsets(consumer, assignment, config.startAt);
}

/**
 * What such a source assigns itself for partitions that appeared while it runs (see
 * discoverPartitions): they hold only records written since it started, so each is read from its
 * first record, unless `startOffsets` names it.
 */
export async function assignmentOfNewPartitions(
  consumer: NativeConsumer, config: SourceConfig, partitions: readonly { topic: string; partition: number }[],
): Promise<TopicPartitionOffset[]> {
  const assignment = partitions.map(({ topic, partition }) => ({ topic, partition, offset: config.startOffsets[topic]?.[String(partition)] ?? OFFSET_BEGINNING }));
  if (config.startAt === undefined) return assignment;
  return resolveStartOffsets(consumer, assignment, typeof config.startAt === 'object' && 'offsets' in config.startAt ? config.startAt : 'beginning');
}

/** The partitions of `topic`, waiting up to topicWaitMs for another process to create it. */
async function partitionsOf(consumer: NativeConsumer, topic: string, topicWaitMs: number, stopped: () => boolean): Promise<number[]> {
  const partitions = await awaitPartitionIds(consumer, topic, topicWaitMs, stopped);
  if (partitions.length === 0 && !stopped()) {
    throw new TracestreamError('KAFKA_CONSUME_FAILED', `topic ${topic} did not appear within ${topicWaitMs} ms`, { details: { topic } });
  }
  return partitions;
}
