import type { LibrdKafkaError, TopicPartitionOffset } from '@confluentinc/kafka-javascript';
import { TracestreamError } from '../../errors/index.js';
import { kafkaError } from '../client/native.js';

/** Queues a commit; its callback reports only whether librdkafka accepted it into its queue. */
export type QueueCommit = (offsets: TopicPartitionOffset[], queued: (err: LibrdKafkaError | null) => void) => void;

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

const keyOf = (offsets: readonly TopicPartitionOffset[]): string =>
  offsets.map((o) => `${o.topic}/${o.partition}@${o.offset}`).sort().join(',');

/**
 * Commits that resolve only once the broker confirmed them. The native `commitCb` calls back as
 * soon as librdkafka queued the commit (`commitAsync`), before the broker answered; the answer
 * arrives through the consumer's `offset_commit_cb`, which carries the offsets but no id, so a
 * commit is matched to its answer by its offsets. librdkafka hands out answers only while the
 * consumer is polled (`consume`): whoever awaits a commit must keep polling.
 */
export class OffsetCommits {
  /** Commits sent and not answered, by their offsets; answers come in send order. */
  private readonly waiting = new Map<string, Waiter[]>();

  constructor(
    private readonly groupId: string,
    private readonly queue: QueueCommit,
  ) {}

  /**
   * Commits `offsets`; resolves when the broker confirmed them. Rejects with KAFKA_COMMIT_FAILED
   * when the broker refused them, or when no answer came within `timeoutMs` (the commit may still
   * land later; counting it as failed only makes it be sent again).
   */
  commit(offsets: TopicPartitionOffset[], timeoutMs: number): Promise<void> {
    const key = keyOf(offsets);
    const failed = (err: LibrdKafkaError): TracestreamError =>
      kafkaError('KAFKA_COMMIT_FAILED', `commit of group ${this.groupId} failed`, err, { offsets });
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => settle(() => resolve()),
        reject: (error) => settle(() => reject(error)),
      };
      const timer = setTimeout(() => {
        waiter.reject(new TracestreamError('KAFKA_COMMIT_FAILED', `commit of group ${this.groupId} was not confirmed within ${timeoutMs} ms`, {
          retriable: true, details: { offsets },
        }));
      }, Math.max(0, timeoutMs));
      const settle = (finish: () => void): void => {
        const waiters = this.waiting.get(key);
        const index = waiters?.indexOf(waiter) ?? -1;
        if (index < 0) return;
        waiters!.splice(index, 1);
        if (waiters!.length === 0) this.waiting.delete(key);
        clearTimeout(timer);
        finish();
      };
      this.waiting.set(key, [...(this.waiting.get(key) ?? []), waiter]);
      try {
        this.queue(offsets, (err) => {
          if (err) waiter.reject(failed(err));
        });
      } catch (error) {
        // The binding throws at once when the consumer is already disconnected.
        waiter.reject(kafkaError('KAFKA_COMMIT_FAILED', `commit of group ${this.groupId} could not be sent`, error, { offsets }));
      }
    });
  }

  /** The consumer's `offset_commit_cb`: the broker's answer to one commit. */
  readonly answer = (err: LibrdKafkaError | null | undefined, offsets: readonly TopicPartitionOffset[]): void => {
    // An answer nobody waits for belongs to a commit that already timed out.
    const waiter = this.waiting.get(keyOf(offsets))?.[0];
    if (waiter === undefined) return;
    if (err) waiter.reject(kafkaError('KAFKA_COMMIT_FAILED', `commit of group ${this.groupId} was refused`, err, { offsets }));
    else waiter.resolve();
  };
}
