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

const NO_HEADERS: Readonly<Record<string, Buffer>> = Object.freeze({});

/** A message's headers by name (most records have none: they share one empty object). */
export function headersOf(message: Message): Readonly<Record<string, Buffer>> {
  if (message.headers === undefined || message.headers.length === 0) return NO_HEADERS;
  const headers: Record<string, Buffer> = {};
  for (const header of message.headers) {
    for (const [name, value] of Object.entries(header)) headers[name] = typeof value === 'string' ? Buffer.from(value) : value;
  }
  return headers;
}

export function keyOf(message: Message): Buffer | null {
  const key = message.key ?? null;
  return typeof key === 'string' ? Buffer.from(key) : key;
}

export function toConsumedRecord(message: Message, ack: () => void): ConsumedRecord {
  return {
    topic: message.topic,
    partition: message.partition,
    offset: String(message.offset),
    key: keyOf(message),
    value: message.value ?? null,
    headers: headersOf(message),
    timestampMs: message.timestamp ?? -1,
    ack,
  };
}
