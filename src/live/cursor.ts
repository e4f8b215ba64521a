import { TracestreamError } from '../errors/index.js';

/** The next offset to read, per partition of one topic: where a reader stands. */
export type Cursor = ReadonlyMap<number, number>;

/**
 * The SSE id of an event: the event's own place (`topic/partition/offset`), then after `;` the
 * position of the reader once it had it, every partition's next offset (`0:12,1:57,...`).
 *
 * The place alone cannot resume a stream read from several partitions: the other partitions may be
 * ahead of or behind it. So a reconnecting client's Last-Event-ID resumes every partition exactly
 * where that client stood: nothing it was sent is sent again and nothing it was not sent is skipped.
 *
 * @example
 * eventId('traces', 2, 157, new Map([[0, 12], [2, 158]])) // 'traces/2/157;0:12,2:158'
 */
export function eventId(topic: string, partition: number, offset: number, cursor: Cursor): string {
  return `${topic}/${partition}/${offset};${formatCursor(cursor)}`;
}

function formatCursor(cursor: Cursor): string {
  const parts: string[] = [];
  for (const [partition, next] of cursor) parts.push(`${partition}:${next}`);
  return parts.join(',');
}

const ID_PATTERN = /^([a-zA-Z0-9._-]+)\/(\d+)\/(\d+);((?:\d+:\d+)(?:,\d+:\d+)*)$/;

/** The topic and cursor an event id names; INPUT_INVALID for anything else (a forged or foreign id). */
export function parseEventId(id: string): { topic: string; cursor: Cursor } {
  const match = ID_PATTERN.exec(id);
  if (match === null) {
    throw new TracestreamError('INPUT_INVALID', `Last-Event-ID ${JSON.stringify(id.slice(0, 200))} is not an event id of this server (topic/partition/offset;partition:next,...)`);
  }
  const cursor = new Map<number, number>();
  for (const pair of match[4]!.split(',')) {
    const [partition, next] = pair.split(':').map(Number) as [number, number];
    if (!Number.isSafeInteger(partition) || !Number.isSafeInteger(next)) {
      throw new TracestreamError('INPUT_INVALID', `Last-Event-ID ${JSON.stringify(id.slice(0, 200))}: offsets out of range`);
    }
    cursor.set(partition, next);
  }
  return { topic: match[1]!, cursor };
}

/** The cursor as the offsets of a `LiveFrom`. */
export function cursorOffsets(cursor: Cursor): Record<string, number> {
  return Object.fromEntries([...cursor].map(([partition, next]) => [String(partition), next]));
}
