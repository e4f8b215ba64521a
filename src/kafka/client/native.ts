import Kafka from '@confluentinc/kafka-javascript';
import type { LibrdKafkaError, Metadata, TopicPartition, TopicPartitionOffset } from '@confluentinc/kafka-javascript';
import { TracestreamError, type ErrorCode } from '../../errors/index.js';

/**
 * The native (node-rdkafka style) classes of @confluentinc/kafka-javascript. We use the native API
 * rather than its KafkaJS layer: it gives per-partition pause/resume, explicit commits with a
 * callback, per-record delivery reports and the transaction calls without an extra message cache.
 */
export const { KafkaConsumer, Producer, AdminClient, CODES } = Kafka;

export type NativeConsumer = InstanceType<typeof KafkaConsumer>;

/**
 * `consume(n)` waits up to its timeout for every message by default, so records that trickle in
 * are held until n of them arrived or a gap as long as the timeout: seconds of latency for a
 * reader of a live topic. Waiting only for the first message returns what is there at once.
 * The setter exists in the library (its KafkaJS layer uses it) but not in its type declarations.
 */
export function waitOnlyForFirstMessage(consumer: NativeConsumer): void {
  (consumer as NativeConsumer & { setDefaultIsTimeoutOnlyForFirstMessage(value: boolean): void }).setDefaultIsTimeoutOnlyForFirstMessage(true);
}
export type NativeProducer = InstanceType<typeof Producer>;

const ERR = CODES.ERRORS;

/** What librdkafka hands to callbacks; its flags decide retry, never its message text. */
export function isLibrdKafkaError(error: unknown): error is LibrdKafkaError {
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'number';
}

export function isTimeout(error: unknown): boolean {
  return isLibrdKafkaError(error) && error.code === ERR.ERR__TIMED_OUT;
}

/**
 * librdkafka codes that mean the group moved on without this member: only rejoining helps. This is
 * the one place they are decoded; callers read `needsRejoin` on the error.
 */
const NEEDS_REJOIN: ReadonlySet<number> = new Set([
  ERR.ERR_REBALANCE_IN_PROGRESS, ERR.ERR_ILLEGAL_GENERATION, ERR.ERR_UNKNOWN_MEMBER_ID,
  ERR.ERR_FENCED_INSTANCE_ID, ERR.ERR__ASSIGNMENT_LOST, ERR.ERR__FATAL,
]);

/**
 * Wraps a librdkafka error: its retriable flag (unless `retriable` overrides it), whether only a
 * rejoin helps (`needsRejoin`), and its code in `details` for logs.
 */
export function kafkaError(
  code: ErrorCode,
  message: string,
  cause: unknown,
  details: Record<string, unknown> = {},
  flags: { retriable?: boolean } = {},
): TracestreamError {
  const native = isLibrdKafkaError(cause) ? cause : undefined;
  const retriable = flags.retriable ?? (native !== undefined && native.isRetriable === true);
  const needsRejoin = native !== undefined && NEEDS_REJOIN.has(native.code);
  const suffix = native === undefined ? (cause instanceof Error ? `: ${cause.message}` : '') : `: ${native.message} (librdkafka code ${native.code})`;
  return new TracestreamError(code, `${message}${suffix}`, {
    cause,
    retriable,
    needsRejoin,
    details: native === undefined ? details : { ...details, librdkafkaCode: native.code, fatal: native.isFatal === true },
  });
}

/** Adapts a librdkafka node-style callback API to a promise. */
export function callbackToPromise<T = void>(
  start: (done: (err: LibrdKafkaError | null | undefined, value?: T) => void) => void,
  wrap: (err: LibrdKafkaError) => TracestreamError,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    start((err, value) => {
      if (err) reject(wrap(err));
      else resolve(value as T);
    });
  });
}

/**
 * The partition count of `topic` from `producer`'s metadata requests, asked again every 100 ms
 * while the topic shows no partitions (a request may auto-create it and answer before the
 * partitions exist); 0 when it still shows none after `timeoutMs`.
 */
export async function awaitPartitionCount(
  producer: NativeProducer, topic: string, timeoutMs: number, wrap: (err: LibrdKafkaError) => TracestreamError,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const metadata = await callbackToPromise<Metadata>(
      (done) => producer.getMetadata({ topic, timeout: Math.max(1, deadline - Date.now()) }, done),
      wrap,
    );
    const partitions = metadata.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
    if (partitions > 0 || Date.now() >= deadline) return partitions;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The partition ids of `topic` (in the metadata's order) from `consumer`'s metadata, asked again
 * every 200 ms while the topic does not exist (another process may be creating it); [] when it
 * still has none after `waitMs`, or once `stopped()` says the caller gave up waiting.
 */
export async function awaitPartitionIds(
  consumer: NativeConsumer, topic: string, waitMs: number, stopped: () => boolean = () => false,
): Promise<number[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const metadata = await callbackToPromise<Metadata>(
      (done) => consumer.getMetadata({ topic, timeout: 10_000 }, done),
      (err) => kafkaError('KAFKA_CONSUME_FAILED', `could not read the partitions of ${topic}`, err, { topic }),
    );
    const partitions = metadata.topics.find((t) => t.name === topic)?.partitions ?? [];
    if (partitions.length > 0) return partitions.map((p) => p.id);
    if (stopped() || Date.now() >= deadline) return [];
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Methods of the native consumer that its type declarations leave out. */
export interface RebalanceControl {
  rebalanceProtocol(): 'NONE' | 'EAGER' | 'COOPERATIVE';
  incrementalAssign(assignment: TopicPartition[]): void;
  incrementalUnassign(assignment: TopicPartition[]): void;
  assignmentLost(): boolean;
  commitCb(offsets: TopicPartitionOffset[], cb: (err: LibrdKafkaError | null) => void): void;
}
