import type { Message } from '@confluentinc/kafka-javascript';
import { MessageRecord } from '../client/record.js';
import type { AckEntry, AckWindow } from './ack-window.js';

/** A partition as a record's ack sees it: the window the ack goes to. */
export interface AckedPartition {
  readonly window: AckWindow;
}

/** Who hears that an ack moved a partition's window (the session: commits, resuming the partition). */
export interface AckListener<P extends AckedPartition> {
  afterAck(part: P): void;
}

/**
 * A record handed out by a source. Its ack goes straight to its partition's window: one object per
 * record instead of a record, its headers, and two closures.
 */
export class SourceRecord<P extends AckedPartition> extends MessageRecord {
  readonly #listener: AckListener<P>;
  readonly #part: P;
  readonly #entry: AckEntry;

  constructor(message: Message, listener: AckListener<P>, part: P, entry: AckEntry) {
    super(message);
    this.#listener = listener;
    this.#part = part;
    this.#entry = entry;
  }

  ack(): void {
    if (this.#part.window.ack(this.#entry)) this.#listener.afterAck(this.#part);
  }
}
