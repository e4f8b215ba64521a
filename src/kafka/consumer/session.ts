import type { Subscriber } from 'rxjs';
import type { LibrdKafkaError, Message, TopicPartition, TopicPartitionOffset } from '@confluentinc/kafka-javascript';
import { AggregateTracestreamError, TracestreamError, describeError } from '../../errors/index.js';
import { stderrLogger, type KafkaLogger } from '../client/config.js';
import { CODES, awaitPartitionIds, isLibrdKafkaError, kafkaError, waitOnlyForFirstMessage, type NativeConsumer, type RebalanceControl } from '../client/native.js';
import type { ConsumedRecord } from '../client/record.js';
import { AckWindow, type AckEntry } from './ack-window.js';
import { assignmentOfAllPartitions, assignmentOfNewPartitions } from './assign-all.js';
import { watchSourceCluster } from './cluster-watch.js';
import { connectGroupConsumer, createGroupConsumer, disconnectGroupConsumer } from './group.js';
import { OffsetCommits } from './offset-commits.js';
import { discoverPartitions, type TopicPartitionId } from './partition-discovery.js';
import type { SourceConfig } from './source.js';
import { SourceRecord } from './source-record.js';

interface PartitionState {
  readonly topicPartition: TopicPartition;
  readonly window: AckWindow;
  /** Records fetched in the same batch after the partition filled up; bounded by consumeBatchSize. */
  readonly held: Message[];
  paused: boolean;
  revoked: boolean;
  emitting: boolean;
}

const partitionKey = (topic: string, partition: number): string => `${partition}:${topic}`;

/**
 * One subscription of a source: the native consumer, its partitions' ack windows and flow control,
 * and the commits that follow the acks.
 */
export class ConsumerSession {
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
  private stopDiscovery: (() => void) | undefined;
  private periodicCommit: Promise<void> | undefined;
  /** Revokes waiting for their commit's confirmation before they give their partitions up. */
  private readonly revoking = new Set<Promise<void>>();
  private closing: Promise<void> | undefined;
  private connected: Promise<void> = Promise.resolve();
  private ackWaiter: (() => void) | undefined;
  private lastAccepted: PartitionState | undefined;
  private stopWatching: (() => void) | undefined;
  /** No broker answered for clusterDownTimeoutMs: the source failed, and a final commit could not land. */
  private clusterLost = false;

  constructor(
    private readonly config: SourceConfig,
    private readonly subscriber: Subscriber<ConsumedRecord>,
  ) {
    this.log = config.log ?? stderrLogger;
    this.commits = new OffsetCommits(config.groupId, (offsets, queued) => this.consumer.commitCb(offsets, queued));
    this.consumer = createGroupConsumer(config, {
      role: 'consumer',
      rebalance: (err, assignment) => this.onRebalance(err, assignment),
      properties: { 'enable.auto.offset.store': false, offset_commit_cb: this.commits.answer },
    }) as NativeConsumer & RebalanceControl;
    this.consumer.setDefaultConsumeTimeout(config.pollTimeoutMs);
    waitOnlyForFirstMessage(this.consumer);
  }

  start(): void {
    this.connected = connectGroupConsumer(this.consumer, this.config);
    this.connected.then(
      () => {
        if (this.stopped) return;
        this.watchCluster();
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

  /** Probes the cluster while the source runs: readiness hears of an outage, and a lasting one stops the source. */
  private watchCluster(): void {
    this.stopWatching = watchSourceCluster(this.consumer, this.config, this.log, (error) => {
      this.clusterLost = true;
      this.fail(error);
    });
  }

  private async assignAll(): Promise<void> {
    const assignment = await assignmentOfAllPartitions(this.consumer, this.config, () => this.stopped);
    if (this.config.startAt !== undefined) {
      if (this.stopped) return;
      this.config.onAssigned?.(assignment);
    }
    this.track(assignment);
    this.applyAssignment(() => this.consumer.assign(assignment));
    this.reportAssignment('assigned');
    this.stopDiscovery = discoverPartitions({
      topics: this.config.topics,
      intervalMs: this.config.partitionDiscoveryMs,
      partitionsOf: (topic) => awaitPartitionIds(this.consumer, topic, 0),
      has: ({ topic, partition }) => this.parts.has(partitionKey(topic, partition)),
      add: (appeared) => this.assignAppeared(appeared),
      onError: (error) => this.log.warn('could not look for new partitions; trying again later', { error: String(error) }),
    });
  }

  /** Starts reading partitions added to the topics while this source runs (from their first record). */
  private async assignAppeared(partitions: readonly TopicPartitionId[]): Promise<void> {
    const assignment = await assignmentOfNewPartitions(this.consumer, this.config, partitions);
    if (this.stopped) return;
    if (this.config.startAt !== undefined) this.config.onAssigned?.(assignment);
    this.track(assignment);
    this.applyAssignment(() => this.consumer.incrementalAssign(assignment));
    this.reportAssignment('assigned');
  }

  /** Gives each newly assigned partition its own, empty, ack window. */
  private track(assignment: readonly TopicPartition[]): void {
    for (const { topic, partition } of assignment) {
      this.parts.set(partitionKey(topic, partition), {
        topicPartition: { topic, partition }, window: new AckWindow(), held: [], paused: false, revoked: false, emitting: false,
      });
    }
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
    this.stopWatching?.();
    clearInterval(this.commitTimer);
    this.stopDiscovery?.();
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
    if (connected && this.clusterLost) {
      // No broker answers: commits cannot land (the group's next member reads the uncommitted
      // records again) and librdkafka's close waits on the dead coordinator for half a minute or
      // more. The consumer is let go in the background, so the failure is reported now.
      this.disconnecting = true;
      void this.fetching.then(() => disconnectGroupConsumer(this.consumer, this.config)).catch((error: unknown) => {
        this.log.warn('disconnect after the cluster was lost failed', { groupId: this.config.groupId, error: describeError(error) });
      });
    } else if (connected) {
      await Promise.all([this.periodicCommit, ...this.revoking]);
      await this.commitConfirmed([...this.parts.values()], 'close').catch((error: unknown) => errors.push(error));
      this.disconnecting = true;
      await this.fetching;
      await disconnectGroupConsumer(this.consumer, this.config).catch((error: unknown) => errors.push(error));
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
    if (part.held.length > 0 || part.window.inFlight >= this.config.maxInFlightPerPartition) part.held.push(message);
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
      while (part.held.length > 0 && part.window.inFlight < this.config.maxInFlightPerPartition && !part.revoked && !this.stopped) {
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
    const full = part.held.length > 0 || part.window.inFlight >= this.config.maxInFlightPerPartition;
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
      this.track(assignment);
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

  /** Tells the observer (readiness, metrics) which partitions this member owns now. */
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
        // A refusal only a rejoin can fix is not retried: retrying would only hold the rebalance up.
        const retry = !(error instanceof TracestreamError && error.needsRejoin) && deadline - Date.now() > this.config.commitIntervalMs;
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
    for (const part of this.parts.values()) if (part.window.inFlight > 0) return false;
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
