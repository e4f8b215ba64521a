import { Observable } from 'rxjs';
import { z } from 'zod';
import { TracestreamError } from '../../errors/index.js';
import { parseOptions, stderrLogger } from '../client/config.js';
import type { ConsumedRecord } from '../client/record.js';
import { consumerGroupShape, withHeartbeatRule } from './group.js';
import { ConsumerSession } from './session.js';
import { startPositionSchema, type PartitionStart } from './start-offsets.js';

const sourceSchema = withHeartbeatRule(z.object({
  ...consumerGroupShape,
  /**
   * Records of one partition handed out and not yet acked; past it the partition is paused. Acked
   * records behind an older unacked one do not count (nor are they kept): a slow record holds back
   * the commit point, never the records after it.
   */
  maxInFlightPerPartition: z.number().int().positive().default(1000),
  commitIntervalMs: z.number().int().positive().default(1000),
  /**
   * How long the source waits for the broker to confirm a commit. A periodic commit not confirmed
   * by then counts as failed and is sent again at the next interval; before a revoke completes and
   * in `close()` it bounds the commit's retries as a whole.
   */
  commitTimeoutMs: z.number().int().positive().default(10_000),
  /** Records taken from librdkafka per fetch call; also the most a paused partition can hold back. */
  consumeBatchSize: z.number().int().positive().max(10_000).default(500),
  /** How long one fetch call waits for the first record; bounds how fast close is noticed. */
  pollTimeoutMs: z.number().int().positive().max(10_000).default(100),
  /** How long `close()` waits for handed-out records to be acked before committing what is acked. */
  drainTimeoutMs: z.number().int().nonnegative().default(10_000),
  /**
   * Read every partition of `topics` without joining the group: no rebalances and no commits (acks
   * only free room). For readers that scan topics, such as a dataset writer: they start at once
   * instead of after the group's initial rebalance delay (3 s by default on Kafka and on the mock).
   */
  assignAllPartitions: z.boolean().default(false),
  /**
   * With assignAllPartitions: where to start reading, per topic and partition (the next offset to
   * read), for readers that keep their position themselves (a trainer's checkpoint) instead of in
   * a group. Partitions not named start as `fromBeginning` says.
   */
  startOffsets: z.record(z.string(), z.record(z.string(), z.number().int().nonnegative())).default({}),
  /**
   * With assignAllPartitions: how often the topics' partitions are read again, so that partitions
   * added while the reader runs are read too (from their first record; see discoverPartitions).
   */
  partitionDiscoveryMs: z.number().int().positive().default(30_000),
  /** With assignAllPartitions: how long to wait for a topic that does not exist yet. */
  topicWaitMs: z.number().int().nonnegative().default(60_000),
  /**
   * With assignAllPartitions: where each partition starts (see `StartPosition`), in place of
   * fromBeginning. The offsets are resolved to numbers before the first fetch and given to
   * `onAssigned`, so a reader knows its position before any record arrives.
   */
  startAt: startPositionSchema.optional(),
  onAssigned: z.custom<(starts: readonly PartitionStart[]) => void>((v) => typeof v === 'function').optional(),
})).refine((o) => o.assignAllPartitions || (o.startAt === undefined && o.onAssigned === undefined), {
  message: 'startAt and onAssigned need assignAllPartitions (a group member starts where its group committed)', path: ['startAt'],
});

export type KafkaSourceOptions = z.input<typeof sourceSchema>;
export type SourceConfig = z.output<typeof sourceSchema>;

/** A consumer group membership seen as a stream of records to ack. */
export interface KafkaSource {
  /**
   * The records, one consumer per subscription (subscribe once). Unsubscribing closes the consumer:
   * it stops fetching, commits what is acked and disconnects; `close()` returns that same promise.
   */
  readonly records: Observable<ConsumedRecord>;
  /**
   * Graceful close: stop handing out records, complete `records` so downstream work can finish,
   * wait up to `drainTimeoutMs` for the acks of handed-out records, commit and wait up to
   * `commitTimeoutMs` for the broker to confirm it, disconnect. Idempotent; resolves once the final
   * commit is confirmed and the disconnect is done; rejects with KAFKA_COMMIT_FAILED when the
   * broker refused the final commit or did not confirm it in time (it still disconnects).
   */
  close(): Promise<void>;
}

/**
 * Subscribes a consumer group to `topics`, at-least-once: an offset is committed only after it and
 * every record before it on its partition was acked, and counts as committed only once the broker
 * confirmed it; a refused commit is logged (`log.warn`) and sent again at the next interval. On a
 * revoke the acked offsets of the revoked partitions are committed, and the confirmation awaited
 * (up to `commitTimeoutMs`), before the partitions are given up. At most `maxInFlightPerPartition`
 * unacked records per partition are out at once; a full partition is paused and resumed as acks free
 * room. The committed offset never passes the oldest unacked record, however many later ones were acked.
 *
 * @example
 * const source = kafkaSource({ client, groupId: 'tracer', topics: ['runs'] })
 * source.records.pipe(mergeMap(async (r) => { await handle(r); r.ack() }, 16)).subscribe()
 * process.once('SIGTERM', () => void source.close())
 */
export function kafkaSource(options: KafkaSourceOptions): KafkaSource {
  const config = parseOptions(sourceSchema, options, 'kafkaSource');
  let session: ConsumerSession | undefined;
  let closedBeforeStart = false;
  const records = new Observable<ConsumedRecord>((subscriber) => {
    if (session !== undefined || closedBeforeStart) {
      subscriber.error(new TracestreamError('CONFIG_INVALID', 'kafkaSource.records can be subscribed once; create another source for another consumer'));
      return;
    }
    const current = new ConsumerSession(config, subscriber);
    session = current;
    current.start();
    return () => {
      current.close(false).catch((error: unknown) => config.log?.warn('closing the consumer after unsubscribe failed', { error: String(error) }) ?? stderrLogger.warn(String(error)));
    };
  });
  return {
    records,
    close() {
      if (session === undefined) {
        closedBeforeStart = true;
        return Promise.resolve();
      }
      return session.close(true);
    },
  };
}

