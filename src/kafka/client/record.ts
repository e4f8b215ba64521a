import type { Message } from '@confluentinc/kafka-javascript';

/**
 * One consumed record. Call `ack()` once it is fully handled; only then may its offset be committed.
 * Its fields are MessageRecord's public ones, so they are written (and documented) once, there.
 */
export type ConsumedRecord = Pick<MessageRecord, keyof MessageRecord>;

/** A record to produce. `partition` unset: chosen by the key's hash. */
export interface OutgoingRecord {
  topic: string;
  key: Buffer | string | null;
  value: Buffer | null;
  headers?: Readonly<Record<string, Buffer | string>>;
  partition?: number;
}

const NO_HEADERS: Readonly<Record<string, Buffer>> = Object.freeze({});

/**
 * A consumed record read from one client message (one object per record, on the hot path of every
 * source); subclasses say what acking it does.
 */
export abstract class MessageRecord {
  readonly topic: string;
  readonly partition: number;
  /** Decimal string: Kafka offsets are int64. */
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, Buffer>>;
  readonly timestampMs: number;

  constructor(message: Message) {
    this.topic = message.topic;
    this.partition = message.partition;
    this.offset = String(message.offset);
    const key = message.key ?? null;
    this.key = typeof key === 'string' ? Buffer.from(key) : key;
    this.value = message.value ?? null;
    this.headers = headersOf(message);
    this.timestampMs = message.timestamp ?? -1;
  }

  /** Idempotent; a no-op once the partition was revoked (the record goes to its next owner). */
  abstract ack(): void;
}

/** Most records have no headers: they share one empty object. */
function headersOf(message: Message): Readonly<Record<string, Buffer>> {
  if (message.headers === undefined || message.headers.length === 0) return NO_HEADERS;
  const headers: Record<string, Buffer> = {};
  for (const header of message.headers) {
    for (const [name, value] of Object.entries(header)) headers[name] = typeof value === 'string' ? Buffer.from(value) : value;
  }
  return headers;
}

class CallbackAckedRecord extends MessageRecord {
  readonly #ack: () => void;

  constructor(message: Message, ack: () => void) {
    super(message);
    this.#ack = ack;
  }

  ack(): void {
    this.#ack();
  }
}

export function toConsumedRecord(message: Message, ack: () => void): ConsumedRecord {
  return new CallbackAckedRecord(message, ack);
}
