import type { ConsumedRecord } from '../kafka/index.js';

/**
 * Wraps a per-record task so that records with the same key run one after another, in the order they
 * arrived, while records with other keys run concurrently. A topology that handles a partition's
 * records in parallel thereby keeps per-key order: a re-submitted solution's trace is produced after
 * the earlier one's, so the compacted `traces` topic keeps the latest. Keys are forgotten once their
 * last task settles, so the map holds only keys with work in flight.
 *
 * @example
 * const transform = serializeByKey(async (record) => traceSolution(record))
 */
export function serializeByKey<T>(task: (record: ConsumedRecord) => Promise<T>): (record: ConsumedRecord) => Promise<T> {
  const tails = new Map<string, Promise<unknown>>();
  return (record) => {
    const key = record.key === null ? null : record.key.toString('latin1');
    if (key === null) return task(record);
    const previous = tails.get(key) ?? Promise.resolve();
    const run = previous.then(() => task(record), () => task(record));
    const tail = run.then(() => undefined, () => undefined);
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return run;
  };
}
