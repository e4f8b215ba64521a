import { describeError } from '../../errors/index.js';
import type { ConsumedRecord } from '../client/record.js';
import type { KafkaProducer } from './sink.js';

/** Header names of a dead-letter record; the original headers are kept beside them. */
export const DEAD_LETTER_HEADERS = {
  reason: 'dead-letter.reason',
  error: 'dead-letter.error',
  sourceTopic: 'dead-letter.source.topic',
  sourcePartition: 'dead-letter.source.partition',
  sourceOffset: 'dead-letter.source.offset',
} as const;

/** The record's own headers plus the dead-letter ones (DEAD_LETTER_HEADERS): why, and where it came from. */
export function deadLetterHeaders(record: ConsumedRecord, reason: string, error?: string): Record<string, Buffer | string> {
  const headers: Record<string, Buffer | string> = {
    ...record.headers,
    [DEAD_LETTER_HEADERS.reason]: reason,
    [DEAD_LETTER_HEADERS.sourceTopic]: record.topic,
    [DEAD_LETTER_HEADERS.sourcePartition]: String(record.partition),
    [DEAD_LETTER_HEADERS.sourceOffset]: record.offset,
  };
  if (error !== undefined) headers[DEAD_LETTER_HEADERS.error] = error;
  return headers;
}

export type DeadLetterFn = (record: ConsumedRecord, reason: string, error?: unknown) => Promise<void>;

/** Builds a dead letter's value from the refused record (e.g. the Avro DeadLetter event). */
export type EncodeDeadLetter = (record: ConsumedRecord, reason: string, error: string | undefined) => Buffer;

/**
 * Returns a function that sends a record to `topic` with its original key and value bytes (or
 * `encode(record, reason, error)` when given, e.g. the Avro DeadLetter event) and headers naming
 * the reason and the origin. It resolves only once the record is delivered, so the caller may ack the source
 * record afterwards.
 *
 * @example
 * const toDlq = deadLetter(producer, 'steps.dlq')
 * try { handle(record) } catch (e) { await toDlq(record, 'decode failed', e) }
 * record.ack()
 */
export function deadLetter(
  producer: KafkaProducer,
  topic: string,
  options: { encode?: EncodeDeadLetter } = {},
): DeadLetterFn {
  return async (record, reason, error) => {
    const described = error === undefined ? undefined : describeError(error);
    await producer.send([{
      topic,
      key: record.key,
      value: options.encode === undefined ? record.value : options.encode(record, reason, described),
      headers: deadLetterHeaders(record, reason, described),
    }]);
  };
}
