import type { Message } from '@confluentinc/kafka-javascript';

/** One consumed record. Call `ack()` once it is fully handled; only then may its offset be committed. */
export interface ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  /** Decimal string: Kafka offsets are int64. */
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, Buffer>>;
  readonly timestampMs: number;
  /** Idempotent; a no-op once the partition was revoked (the record goes to its next owner). */
  ack(): void;
}

/** A record to produce. `partition` unset: chosen by the key's hash. */
export interface OutgoingRecord {
  topic: string;
  key: Buffer | string | null;
  value: Buffer | null;
  headers?: Readonly<Record<string, Buffer | string>>;
  partition?: number;
}

export function toConsumedRecord(message: Message, ack: () => void): ConsumedRecord {
  const headers: Record<string, Buffer> = {};
  for (const header of message.headers ?? []) {
    for (const [name, value] of Object.entries(header)) headers[name] = typeof value === 'string' ? Buffer.from(value) : value;
  }
  const key = message.key ?? null;
  return {
    topic: message.topic,
    partition: message.partition,
    offset: String(message.offset),
    key: typeof key === 'string' ? Buffer.from(key) : key,
    value: message.value ?? null,
    headers,
    timestampMs: message.timestamp ?? -1,
    ack,
  };
}
