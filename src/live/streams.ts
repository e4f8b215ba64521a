import { z } from 'zod';
import type { EventTypes } from '../avro/index.js';
import { TracestreamError } from '../errors/index.js';
import type { StartPosition } from '../kafka/index.js';
import { DEFAULT_TRACE_TOPICS } from '../pipeline/index.js';

/**
 * The live streams a person can watch: `traces` (one ExecutionTrace per run) and `diffs` (one
 * LineDiff per executed step), each the topic the trace topology writes.
 */
export const LIVE_STREAMS = {
  traces: { eventType: 'ExecutionTrace', defaultTopic: DEFAULT_TRACE_TOPICS.traces },
  diffs: { eventType: 'LineDiff', defaultTopic: DEFAULT_TRACE_TOPICS.diffs },
} as const;

export type LiveStream = keyof typeof LIVE_STREAMS;
export const liveStreamSchema = z.enum(['traces', 'diffs']);

/** The decoded event type of a stream: ExecutionTrace for traces, LineDiff for diffs. */
export type LiveEventOf<S extends LiveStream> = EventTypes[(typeof LIVE_STREAMS)[S]['eventType']];

/** One decoded event with the place it was read from. */
export interface LiveEvent<S extends LiveStream = LiveStream> {
  readonly stream: S;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** The record's Kafka timestamp (producer's create time). */
  readonly timestampMs: number;
  readonly event: LiveEventOf<S>;
}

/**
 * Where a live reader starts: records written from now on, every record kept, records written at
 * or after a time, or explicit next offsets per partition (a saved position, e.g. an SSE event id).
 */
export const liveFromSchema = z.union([
  z.literal('now'),
  z.literal('beginning'),
  z.object({ timestampMs: z.number().int().nonnegative() }).strict(),
  z.object({ offsets: z.record(z.string(), z.number().int().nonnegative()) }).strict(),
]);

export type LiveFrom = z.infer<typeof liveFromSchema>;

/** The Kafka start position of a live reader of `topic`. */
export function startPositionOf(from: LiveFrom, topic: string): StartPosition {
  if (from === 'now') return 'end';
  if (from === 'beginning') return 'beginning';
  if ('timestampMs' in from) return from;
  return { offsets: { [topic]: from.offsets } };
}

/**
 * `--from` / `?from=` as a person writes it: `now`, `beginning`, an ISO 8601 time
 * (`2026-12-02T05:00:00Z`) or milliseconds since the epoch.
 */
export function parseLiveFrom(text: string): LiveFrom {
  if (text === 'now' || text === 'beginning') return text;
  const timestampMs = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isSafeInteger(timestampMs) || timestampMs < 0) {
    throw new TracestreamError('CONFIG_INVALID', `from: expected now, beginning, an ISO 8601 time or epoch milliseconds, got ${JSON.stringify(text)}`);
  }
  return { timestampMs };
}
