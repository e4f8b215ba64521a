import { TracestreamError } from '../../errors/index.js';
import { awaitPartitionCount, kafkaError, type NativeProducer } from '../client/native.js';
import type { OutgoingRecord } from '../client/record.js';

/**
 * Kafka's default partitioner for keyed records, as the Java client computes it (murmur2 of the key
 * bytes, sign bit cleared, modulo the partition count): records keyed alike land on the partition a
 * Java or Kafka Streams producer would choose, whichever client wrote them.
 */
export function partitionOfKey(key: Uint8Array | string, partitions: number): number {
  if (typeof key !== 'string') return (murmur2(key) & 0x7fffffff) % partitions;
  // A string key is hashed as its UTF-8 bytes, written into a reused buffer rather than a new one per record.
  if (key.length * 3 > scratch.length) scratch = Buffer.allocUnsafe(key.length * 3);
  const length = scratch.write(key, 0, 'utf8');
  return (murmur2(scratch, length) & 0x7fffffff) % partitions;
}

let scratch = Buffer.allocUnsafe(256);

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) of the first `length` bytes: a signed 32-bit hash. */
export function murmur2(data: Uint8Array, length = data.length): number {
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  if (rest === 3) h ^= data[whole + 2]! << 16;
  if (rest >= 2) h ^= data[whole + 1]! << 8;
  if (rest >= 1) h = Math.imul(h ^ data[whole]!, M);
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partition counts of the topics a producer writes to, read from the cluster's metadata. The
 * producer picks every record's partition itself (see DeliveryTracker), as Kafka's Java client
 * would: murmur2 of the key, or round-robin for records without one.
 */
export class PartitionCounts {
  private readonly counts = new Map<string, number>();
  private readonly loading = new Map<string, Promise<void>>();
  private readonly nextUnkeyed = new Map<string, number>();
  private lastKey: Buffer | string | undefined;
  private lastKeyTopic: string | undefined;
  private lastKeyPartition = 0;

  constructor(private readonly native: NativeProducer, private readonly timeoutMs: number) {}

  knowsAll(records: readonly OutgoingRecord[]): boolean {
    for (const record of records) if (record.partition === undefined && !this.counts.has(record.topic)) return false;
    return true;
  }

  /** Reads the partition counts of the topics of `records` that are not known yet. */
  load(records: readonly OutgoingRecord[]): Promise<void> {
    const topics = new Set<string>();
    for (const record of records) if (record.partition === undefined && !this.counts.has(record.topic)) topics.add(record.topic);
    return Promise.all([...topics].map((topic) => this.loadTopic(topic))).then(() => undefined);
  }

  /** Reads every known topic's partition count again, in the background. */
  refresh(): void {
    for (const topic of this.counts.keys()) {
      this.partitionCountOf(topic).then((count) => {
        this.counts.set(topic, count);
        this.lastKey = undefined;
      }, () => undefined); // the count read before stays in use
    }
  }

  /** The partition of a record whose topic's count is known. */
  choose(record: OutgoingRecord): number {
    const count = this.counts.get(record.topic)!;
    const key = record.key;
    if (key === null) {
      const next = this.nextUnkeyed.get(record.topic) ?? 0;
      this.nextUnkeyed.set(record.topic, (next + 1) % count);
      return next;
    }
    // A run's records share one key object: hashed once for all of them.
    if (key === this.lastKey && record.topic === this.lastKeyTopic) return this.lastKeyPartition;
    const partition = partitionOfKey(key, count);
    this.lastKey = key;
    this.lastKeyTopic = record.topic;
    this.lastKeyPartition = partition;
    return partition;
  }

  private loadTopic(topic: string): Promise<void> {
    let loading = this.loading.get(topic);
    if (loading === undefined) {
      loading = this.partitionCountOf(topic).then((count) => {
        this.counts.set(topic, count);
      }).finally(() => this.loading.delete(topic));
      this.loading.set(topic, loading);
    }
    return loading;
  }

  private async partitionCountOf(topic: string): Promise<number> {
    const partitions = await awaitPartitionCount(this.native, topic, this.timeoutMs, (err) => kafkaError('KAFKA_DELIVERY_FAILED', `could not read the partitions of ${topic}`, err, { topic }));
    if (partitions === 0) {
      throw new TracestreamError('KAFKA_DELIVERY_FAILED', `topic ${topic} does not exist (no partitions after ${this.timeoutMs} ms); create it first`, { details: { topic } });
    }
    return partitions;
  }
}
