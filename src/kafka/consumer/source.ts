import { Observable, type Subscriber } from 'rxjs';
import { z } from 'zod';
import type { LibrdKafkaError, Message, Metadata, TopicPartition, TopicPartitionOffset } from '@confluentinc/kafka-javascript';
import { AggregateTracestreamError, TracestreamError, describeError } from '../errors/index.js';
import { AckWindow, type AckEntry } from './ack-window.js';
import { CODES, KafkaConsumer, callbackToPromise, isLibrdKafkaError, kafkaError, waitOnlyForFirstMessage, type NativeConsumer } from './client.js';
import { clientConfigSchema, nativeClientConfig, parseOptions, stderrLogger, topicNameSchema, type KafkaLogger } from './config.js';
import { attachObserver, consumerObserverSchema, observerClientConfig } from './observer.js';
import { OffsetCommits, commitNeedsRejoin } from './offset-commits.js';
import { MessageRecord, type ConsumedRecord } from './record.js';

/** librdkafka's logical offsets: the first and the next record of a partition. */
const OFFSET_BEGINNING = -2;
const OFFSET_END = -1;

const sourceSchema = z.object({
  client: clientConfigSchema,
  groupId: z.string().min(1),
  topics: z.array(topicNameSchema).min(1),
  /** Records of one partition handed out and not yet committable; past it the partition is paused. */
  maxInFlightPerPartition: z.number().int().positive().default(1000),
  commitIntervalMs: z.number().int().positive().default(1000),
  /**
   * How long the source waits for the broker to confirm a commit. A periodic commit not confirmed
   * by then counts as failed and is sent again at the next interval; before a revoke completes and
   * in `close()` it bounds the commit's retries as a whole.
   */
  commitTimeoutMs: z.number().int().positive().default(10_000),
  /** Where a group with no committed offset starts: earliest (our pipelines) or latest. */
  fromBeginning: z.boolean().default(true),
  /** Records taken from librdkafka per fetch call; also the most a paused partition can hold back. */
  consumeBatchSize: z.number().int().positive().max(10_000).default(500),
  /**
   * Longest a fetch request waits at the broker for new records. Brokers answer at once when data
   * arrives, except the mock cluster, which waits it out: its default (500 ms) was most of the
   * produce-to-consume latency there.
   */
  fetchWaitMaxMs: z.number().int().positive().max(10_000).default(100),
  /** How long one fetch call waits for the first record; bounds how fast close is noticed. */
  pollTimeoutMs: z.number().int().positive().max(10_000).default(100),
  /** How long `close()` waits for handed-out records to be acked before committing what is acked. */
  drainTimeoutMs: z.number().int().nonnegative().default(10_000),
  /**
   * A member silent this long is dropped from the group. On the mock cluster a rejoining group also
   * waits this long for a departed member (its LeaveGroup is not honoured), so tests lower it.
   */
  sessionTimeoutMs: z.number().int().positive().default(45_000),
  heartbeatIntervalMs: z.number().int().positive().default(3_000),
  /**
   * Consumer group protocol. 'classic' works with every broker. 'consumer' (KIP-848, Kafka 4.0+ and
   * the mock cluster) assigns partitions without the classic protocol's initial rebalance delay
   * (3 s); its session timeout and heartbeat are set by the broker, so the two options above are
   * not sent with it.
   */
  groupProtocol: z.enum(['classic', 'consumer']).default('classic'),
  /**
   * Read every partition of `topics` without joining the group: no rebalances and no commits (acks
   * only free room). For readers that scan topics, such as a dataset writer: they start at once
   * instead of after the group's initial rebalance delay (3 s by default on Kafka and on the mock).
   */
  assignAllPartitions: z.boolean().default(false),
  /** With assignAllPartitions: how long to wait for a topic that does not exist yet. */
  topicWaitMs: z.number().int().nonnegative().default(60_000),
  log: z.custom<KafkaLogger>((v) => typeof v === 'object' && v !== null && typeof (v as KafkaLogger).warn === 'function').optional(),
  /** Sees assignments and statistics (lag, broker states): a process's readiness and metrics. */
  observer: consumerObserverSchema.optional(),
}).refine((o) => o.heartbeatIntervalMs * 3 <= o.sessionTimeoutMs, {
  message: 'heartbeatIntervalMs must be at most a third of sessionTimeoutMs', path: ['heartbeatIntervalMs'],
});

export type KafkaSourceOptions = z.input<typeof sourceSchema>;
type SourceConfig = z.output<typeof sourceSchema>;

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
 * records per partition are out at once; a full partition is paused and resumed as acks free room.
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

interface PartitionState {
  readonly topicPartition: TopicPartition;
  readonly window: AckWindow;
  /** Records fetched in the same batch after the partition filled up; bounded by consumeBatchSize. */
  readonly held: Message[];
  paused: boolean;
  revoked: boolean;
  emitting: boolean;
}

/** Methods of the native consumer that its type declarations leave out. */
interface RebalanceControl {
  rebalanceProtocol(): 'NONE' | 'EAGER' | 'COOPERATIVE';
  incrementalAssign(assignment: TopicPartition[]): void;
  incrementalUnassign(assignment: TopicPartition[]): void;
  assignmentLost(): boolean;
  commitCb(offsets: TopicPartitionOffset[], cb: (err: LibrdKafkaError | null) => void): void;
}

const partitionKey = (topic: string, partition: number): string => `${partition}:${topic}`;

/**
 * A record handed out by a source. Its ack goes straight to its partition's window: one object per
 * record instead of a record, its headers, and two closures.
 */
class SourceRecord extends MessageRecord {
  readonly #session: ConsumerSession;
  readonly #part: PartitionState;
  readonly #entry: AckEntry;

  constructor(message: Message, session: ConsumerSession, part: PartitionState, entry: AckEntry) {
    super(message);
    this.#session = session;
    this.#part = part;
    this.#entry = entry;
  }

  ack(): void {
    if (this.#part.window.ack(this.#entry)) this.#session.afterAck(this.#part);
  }
}

class ConsumerSession {
  private readonly parts = new Map<string, PartitionState>();
  private readonly consumer: NativeConsumer & RebalanceControl;
  private readonly log: KafkaLogger;
  private readonly commits: OffsetCommits;
  private fetching: Promise<void> = Promise.resolve();
  /** No more records are handed out; the consumer is still polled so commit answers arrive. */
  private stopped = false;
  /** Polling has stopped for good: the consumer is being disconnected. */
  private disconnecting = false;
  private commitTimer: NodeJS.Timeout | undefined;
  private periodicCommit: Promise<void> | undefined;
  /** Revokes waiting for their commit's confirmation before they give their partitions up. */
  private readonly revoking = new Set<Promise<void>>();
  private closing: Promise<void> | undefined;
  private connected: Promise<void> = Promise.resolve();
  private ackWaiter: (() => void) | undefined;
  private lastAccepted: PartitionState | undefined;

  constructor(
    private readonly config: SourceConfig,
    private readonly subscriber: Subscriber<ConsumedRecord>,
  ) {
    this.log = config.log ?? stderrLogger;
    this.commits = new OffsetCommits(config.groupId, (offsets, queued) => this.consumer.commitCb(offsets, queued));
    this.consumer = new KafkaConsumer(
      {
        ...nativeClientConfig(config.client, 'consumer'),
        'group.id': config.groupId,
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'isolation.level': 'read_committed',
        'fetch.wait.max.ms': config.fetchWaitMaxMs,
        ...(config.groupProtocol === 'consumer'
          ? { 'group.protocol': 'consumer' }
          : { 'session.timeout.ms': config.sessionTimeoutMs, 'heartbeat.interval.ms': config.heartbeatIntervalMs }),
        rebalance_cb: (err: LibrdKafkaError, assignment: TopicPartition[]) => this.onRebalance(err, assignment),
        offset_commit_cb: this.commits.answer,
        ...observerClientConfig(config.observer),
      },
      { 'auto.offset.reset': config.fromBeginning ? 'earliest' : 'latest' },
    ) as NativeConsumer & RebalanceControl;
    this.consumer.setDefaultConsumeTimeout(config.pollTimeoutMs);
    waitOnlyForFirstMessage(this.consumer);
    attachObserver(this.consumer, config.observer);
  }

  start(): void {
    this.connected = callbackToPromise(
      (done) => this.consumer.connect({ timeout: 30_000 }, (err) => done(err)),
      (err) => kafkaError('KAFKA_CONNECT_FAILED', `consumer of group ${this.config.groupId} could not connect to ${this.config.client.bootstrapServers}`, err),
    );
    this.connected.then(
      () => {
        if (this.stopped) return;
        if (this.config.assignAllPartitions) {
          this.assignAll().then(() => this.fetch(), (error: unknown) => this.fail(error));
          return;
        }
        this.consumer.subscribe(this.config.topics);
        this.commitTimer = setInterval(() => this.commitInBackground(), this.config.commitIntervalMs);
        this.fetch();
      },
      (error: unknown) => this.fail(error),
    );
  }

  /** The partitions of `topic`, waiting up to topicWaitMs for another process to create it. */
  private async partitionsOf(topic: string): Promise<number[]> {
    const deadline = Date.now() + this.config.topicWaitMs;
    for (;;) {
      const metadata = await callbackToPromise<Metadata>(
        (done) => this.consumer.getMetadata({ topic, timeout: 10_000 }, done),
        (err) => kafkaError('KAFKA_CONSUME_FAILED', `could not read the partitions of ${topic}`, err, { topic }),
      );
      const partitions = metadata.topics.find((t) => t.name === topic)?.partitions ?? [];
      if (partitions.length > 0) return partitions.map((p) => p.id);
      if (this.stopped) return [];
      if (Date.now() >= deadline) {
        throw new TracestreamError('KAFKA_CONSUME_FAILED', `topic ${topic} did not appear within ${this.config.topicWaitMs} ms`, { details: { topic } });
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  private async assignAll(): Promise<void> {
    const assignment: TopicPartitionOffset[] = [];
    for (const topic of this.config.topics) {
      for (const id of await this.partitionsOf(topic)) {
        assignment.push({ topic, partition: id, offset: this.config.fromBeginning ? OFFSET_BEGINNING : OFFSET_END });
      }
    }
    for (const { topic, partition } of assignment) {
      this.parts.set(partitionKey(topic, partition), {
        topicPartition: { topic, partition }, window: new AckWindow(), held: [], paused: false, revoked: false, emitting: false,
      });
    }
    this.applyAssignment(() => this.consumer.assign(assignment));
    this.reportAssignment('assigned');
  }

  close(drain: boolean): Promise<void> {
    this.closing ??= this.shutdown(drain);
    return this.closing;
  }

  /**
   * The broker answers commits only while the consumer is polled, so polling goes on (dropping
   * what it fetches) until the final commit is confirmed or given up; only then does it stop and
   * the consumer disconnect.
   */
  private async shutdown(drain: boolean): Promise<void> {
    this.stopped = true;
    clearInterval(this.commitTimer);
    const errors: unknown[] = [];
    const connected = await this.connected.then(() => true, () => false);
    // Records fetched from now on, and those held back, are dropped unseen: they were never handed
    // out, so the group redelivers them from the committed offset.
    for (const part of this.parts.values()) {
      part.held.length = 0;
      this.pause(part);
    }
    if (drain && !this.subscriber.closed) {
      this.subscriber.complete();
      await this.waitForAcks(this.config.drainTimeoutMs);
    }
    if (connected) {
      await Promise.all([this.periodicCommit, ...this.revoking]);
      await this.commitConfirmed([...this.parts.values()], 'close').catch((error: unknown) => errors.push(error));
      this.disconnecting = true;
      await this.fetching;
      await callbackToPromise(
        (done) => this.consumer.disconnect((err: LibrdKafkaError | null) => done(err)),
        (err) => kafkaError('KAFKA_CONNECT_FAILED', `consumer of group ${this.config.groupId} did not disconnect cleanly`, err),
      ).catch((error: unknown) => errors.push(error));
    }
    if (!this.subscriber.closed) this.subscriber.complete();
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateTracestreamError('KAFKA_COMMIT_FAILED', `closing the consumer of group ${this.config.groupId} failed`, errors);
  }

  private fetch(): void {
    if (this.disconnecting) return;
    this.fetching = new Promise<void>((resolve) => {
      this.consumer.consume(this.config.consumeBatchSize, (err, messages) => {
        resolve();
        if (this.disconnecting) return;
        if (err) {
          if (err.isFatal === true) {
            // The consumer can neither fetch nor commit any more; a closing source just stops polling.
            if (!this.stopped) this.fail(kafkaError('KAFKA_CONSUME_FAILED', `consumer of group ${this.config.groupId} hit a fatal error`, err));
            return;
          }
          this.log.warn('consume failed, retrying', { groupId: this.config.groupId, code: err.code, message: err.message });
        } else {
          for (const message of messages) this.accept(message);
        }
        setImmediate(() => this.fetch());
      });
    });
  }

  private accept(message: Message): void {
    // A batch mostly holds runs of one partition: looked up again only when it changes. A revoked
    // partition's state is never reused, so a cached one that was revoked is looked up again too.
    let part = this.lastAccepted;
    if (part === undefined || part.revoked || part.topicPartition.partition !== message.partition || part.topicPartition.topic !== message.topic) {
      part = this.parts.get(partitionKey(message.topic, message.partition));
      this.lastAccepted = part;
    }
    if (part === undefined || part.revoked || this.stopped) return;
    if (part.held.length > 0 || part.window.size >= this.config.maxInFlightPerPartition) part.held.push(message);
    else this.emit(part, message);
    this.updateFlow(part);
  }

  private emit(part: PartitionState, message: Message): void {
    this.subscriber.next(new SourceRecord(message, this, part, part.window.track(message.offset)));
  }

  /** A handed-out record of `part` was acked: hand out what it held back, resume it if it has room. */
  afterAck(part: PartitionState): void {
    if (this.stopped) {
      if (this.ackWaiter !== undefined && this.allAcked()) this.ackWaiter();
      return;
    }
    if (part.revoked || part.emitting) return;
    part.emitting = true;
    try {
      while (part.held.length > 0 && part.window.size < this.config.maxInFlightPerPartition && !part.revoked && !this.stopped) {
        this.emit(part, part.held.shift()!);
      }
    } finally {
      part.emitting = false;
    }
    this.updateFlow(part);
  }

  /** Stops fetching a partition whose records will not be handed out any more. */
  private pause(part: PartitionState): void {
    if (part.paused || part.revoked) return;
    try {
      this.consumer.pause([part.topicPartition]);
      part.paused = true;
    } catch (error) {
      this.log.warn('could not pause a partition', { ...part.topicPartition, error: String(error) });
    }
  }

  /** Pauses a partition whose window is full and resumes it once acks free room and nothing is held. */
  private updateFlow(part: PartitionState): void {
    if (part.revoked || this.stopped) return;
    const full = part.held.length > 0 || part.window.size >= this.config.maxInFlightPerPartition;
    if (full === part.paused) return;
    try {
      if (full) this.consumer.pause([part.topicPartition]);
      else this.consumer.resume([part.topicPartition]);
      part.paused = full;
    } catch (error) {
      this.log.warn(`could not ${full ? 'pause' : 'resume'} a partition`, { ...part.topicPartition, error: String(error) });
    }
  }

  private onRebalance(err: LibrdKafkaError, assignment: TopicPartition[]): void {
    const cooperative = this.consumer.rebalanceProtocol() === 'COOPERATIVE';
    if (err.code === CODES.ERRORS.ERR__ASSIGN_PARTITIONS) {
      for (const { topic, partition } of assignment) {
        this.parts.set(partitionKey(topic, partition), {
          topicPartition: { topic, partition }, window: new AckWindow(), held: [], paused: false, revoked: false, emitting: false,
        });
      }
      this.applyAssignment(() => (cooperative ? this.consumer.incrementalAssign(assignment) : this.consumer.assign(assignment)));
      this.reportAssignment('assigned');
      return;
    }
    const lost = this.consumer.assignmentLost();
    const revoked: PartitionState[] = [];
    for (const { topic, partition } of assignment) {
      const part = this.parts.get(partitionKey(topic, partition));
      if (part === undefined) continue;
      part.revoked = true;
      part.held.length = 0;
      this.parts.delete(partitionKey(topic, partition));
      revoked.push(part);
    }
    // Commit what is acked, and wait for the broker to confirm it, before giving the partitions up:
    // the next owner starts at the confirmed offset. A lost assignment may no longer commit, and
    // once disconnecting the final commit has covered them (and nothing polls for answers).
    const committed = lost || this.disconnecting ? Promise.resolve() : this.commitConfirmed(revoked, 'revoke');
    const revoking = committed
      .catch(() => undefined) // logged by commitConfirmed; the next owner re-reads from the last confirmed commit
      .finally(() => {
        this.revoking.delete(revoking);
        for (const part of revoked) part.window.drop();
        this.applyAssignment(() => (cooperative ? this.consumer.incrementalUnassign(assignment) : this.consumer.unassign()));
      });
    this.revoking.add(revoking);
    this.reportAssignment('revoked');
    if (err.code !== CODES.ERRORS.ERR__REVOKE_PARTITIONS) {
      this.log.warn('rebalance error; dropped the assignment', { code: err.code, message: err.message });
    }
  }

  private reportAssignment(change: 'assigned' | 'revoked'): void {
    this.config.observer?.assignment?.([...this.parts.values()].map((part) => part.topicPartition), change);
  }

  private applyAssignment(apply: () => void): void {
    try {
      apply();
    } catch (error) {
      // The consumer is gone (closed while the rebalance was being delivered): nothing to apply.
      if (this.consumer.isConnected()) this.log.warn('assign/unassign failed', { error: String(error) });
    }
  }

  /**
   * Commits what `parts` acked since their last confirmed commit; the offsets count as committed
   * once the broker confirmed them, otherwise they stay pending and the next commit sends them again.
   */
  private async commit(parts: readonly PartitionState[], timeoutMs: number): Promise<void> {
    const pending: { part: PartitionState; offset: number }[] = [];
    for (const part of parts) {
      const offset = part.window.pendingCommit();
      if (offset !== undefined) pending.push({ part, offset });
    }
    if (pending.length === 0) return;
    if (!this.config.assignAllPartitions) {
      await this.commits.commit(pending.map(({ part, offset }) => ({ ...part.topicPartition, offset })), timeoutMs);
    }
    for (const { part, offset } of pending) part.window.markCommitted(offset);
  }

  /**
   * Commits and waits for the confirmation, retrying a refused commit every commitIntervalMs until
   * commitTimeoutMs has passed; a refusal that only a rejoin can fix is not retried.
   */
  private async commitConfirmed(parts: readonly PartitionState[], occasion: 'revoke' | 'close'): Promise<void> {
    const deadline = Date.now() + this.config.commitTimeoutMs;
    for (;;) {
      try {
        await this.commit(parts, deadline - Date.now());
        return;
      } catch (error) {
        const retry = !commitNeedsRejoin(error) && deadline - Date.now() > this.config.commitIntervalMs;
        this.warnCommitFailed(`${occasion} commit failed; ${retry ? 'retrying' : 'giving up'}`, error);
        if (!retry) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, this.config.commitIntervalMs));
    }
  }

  private commitInBackground(): void {
    if (this.periodicCommit !== undefined || this.stopped) return;
    this.periodicCommit = this.commit([...this.parts.values()], this.config.commitTimeoutMs)
      .catch((error: unknown) => this.warnCommitFailed('periodic commit failed; retried at the next interval', error))
      .finally(() => {
        this.periodicCommit = undefined;
      });
  }

  private warnCommitFailed(message: string, error: unknown): void {
    const cause = error instanceof TracestreamError ? error.cause : undefined;
    this.log.warn(message, {
      groupId: this.config.groupId,
      error: describeError(error),
      ...(error instanceof TracestreamError ? { offsets: error.details['offsets'] } : {}),
      ...(isLibrdKafkaError(cause) ? { librdkafkaCode: cause.code } : {}),
    });
  }

  private allAcked(): boolean {
    for (const part of this.parts.values()) if (part.window.size > 0) return false;
    return true;
  }

  private waitForAcks(timeoutMs: number): Promise<void> {
    if (this.allAcked()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.ackWaiter = undefined;
        resolve();
      }
      this.ackWaiter = done;
    });
  }

  private fail(error: unknown): void {
    if (this.subscriber.closed) return;
    this.subscriber.error(error);
  }
}
