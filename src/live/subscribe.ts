import { Observable } from 'rxjs';
import { startsAtTime } from '../kafka/index.js';
import { stderrLogger } from '../kafka/client/config.js';
import { eventMatcher, liveFilterSchema, type LiveFilter } from './filter.js';
import { liveRecords, type LiveReaderOptions, type LiveRecordsHooks } from './records.js';
import { parseOptions } from '../kafka/client/config.js';
import { liveStreamSchema, startPositionOf, type LiveEvent, type LiveStream } from './streams.js';

/**
 * The decoded events of a live stream that match `filter`, from `options.from` on (default: now).
 *
 * It reads every partition of the stream's topic with a consumer of its own that joins no group, so
 * it never takes partitions from a topology and needs no commits. Unsubscribing closes the
 * consumer. Records that do not decode are skipped and reported to `options.log` (default stderr);
 * a schema registry that cannot be reached errors the stream.
 *
 * @example
 * const sub = subscribe('traces', { outcome: 'timeout' }, { client, codec, from: 'beginning' })
 *   .subscribe(({ event }) => console.log(event.runId, event.reason))
 * // later
 * sub.unsubscribe()
 */
export function subscribe<S extends LiveStream>(
  stream: S, filter: LiveFilter, options: LiveReaderOptions, hooks: LiveRecordsHooks = {},
): Observable<LiveEvent<S>> {
  parseOptions(liveStreamSchema, stream, 'subscribe stream');
  const matches = eventMatcher<S>(parseOptions(liveFilterSchema, filter, 'subscribe filter'));
  const records = liveRecords(stream, options, hooks);
  const from = options.from ?? 'now';
  const notBeforeMs = startsAtTime(startPositionOf(from, '')) ?? 0;
  const log = options.log ?? stderrLogger;
  return new Observable<LiveEvent<S>>((subscriber) => records.subscribe({
    next: (record) => {
      if (record.event === undefined) {
        log.warn('skipped a record of a live stream', { topic: record.topic, partition: record.partition, offset: record.offset, reason: record.skipped });
        return;
      }
      if (record.timestampMs < notBeforeMs || !matches(record.event)) return;
      subscriber.next({ stream, topic: record.topic, partition: record.partition, offset: record.offset, timestampMs: record.timestampMs, event: record.event });
    },
    error: (error: unknown) => subscriber.error(error),
    complete: () => subscriber.complete(),
  }));
}
