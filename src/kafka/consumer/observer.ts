import { z } from 'zod';
import type { NativeConsumer } from '../client/native.js';

/** A partition this consumer owns and how far it is behind the partition's end. */
export interface PartitionLag {
  topic: string;
  partition: number;
  /** Records between the committed offset and the last stable offset; undefined until both are known. */
  lag: number | undefined;
  /**
   * The partition's end a read_committed consumer (every one of ours) reads up to: its last stable
   * offset, the high watermark when no transaction is open. Undefined until a fetch reported it.
   */
  endOffset: number | undefined;
  /** The partition's first offset (its low watermark); undefined until known. */
  startOffset: number | undefined;
}

/** What librdkafka's periodic statistics say about a consumer, reduced to what health needs. */
export interface ConsumerStatistics {
  /** Brokers (including the group coordinator) whose connection is up. */
  brokersUp: number;
  brokersKnown: number;
  /** One entry per partition the consumer fetches. */
  partitions: PartitionLag[];
}

/**
 * Hooks a process gives a consumer to see its membership: for readiness (partitions owned, brokers
 * up) and metrics (lag, rebalances). Called on the consumer's own callbacks: keep them cheap.
 */
export interface ConsumerObserver {
  /** After every assignment change: the partitions owned now, and whether some were taken away. */
  assignment?(owned: readonly { topic: string; partition: number }[], change: 'assigned' | 'revoked'): void;
  /** The cluster stopped answering the consumer's probes (false), or answers again (true). */
  cluster?(reachable: boolean, detail: string): void;
  /** Every `statisticsIntervalMs`, from librdkafka's statistics (no broker round trip). */
  statistics?(stats: ConsumerStatistics): void;
  /** How often statistics are reported; default 5000. */
  statisticsIntervalMs?: number;
}

export const consumerObserverSchema = z.custom<ConsumerObserver>((v) => typeof v === 'object' && v !== null, 'an object with assignment/cluster/statistics hooks');

/** The librdkafka properties an observer needs: statistics only when someone reads them. */
export function observerClientConfig(observer: ConsumerObserver | undefined): Record<string, number> {
  return observer?.statistics === undefined ? {} : { 'statistics.interval.ms': observer.statisticsIntervalMs ?? 5_000 };
}

/** Delivers the consumer's statistics events to the observer. */
export function attachObserver(consumer: NativeConsumer, observer: ConsumerObserver | undefined): void {
  const statistics = observer?.statistics;
  if (statistics === undefined) return;
  (consumer as unknown as { on(event: 'event.stats', listener: (event: { message: string }) => void): void }).on('event.stats', (event) => {
    const parsed = parseConsumerStatistics(event.message);
    if (parsed !== undefined) statistics(parsed);
  });
}

const statsSchema = z.object({
  brokers: z.record(z.string(), z.object({ state: z.string() })).default({}),
  topics: z.record(z.string(), z.object({
    partitions: z.record(z.string(), z.object({
      partition: z.number(), consumer_lag: z.number(), fetch_state: z.string().optional(),
      ls_offset: z.number().optional(), lo_offset: z.number().optional(),
    })),
  })).default({}),
});

/**
 * Reads librdkafka's statistics JSON (see its STATISTICS.md): broker states, and per partition the
 * consumer lag and the last stable and low watermark offsets (-1 there when not known yet). The
 * internal partition -1 and partitions the consumer does not fetch (fetch_state "none") are left
 * out. Undefined for a document it cannot read.
 */
export function parseConsumerStatistics(json: string): ConsumerStatistics | undefined {
  let parsed: z.output<typeof statsSchema>;
  try {
    const result = statsSchema.safeParse(JSON.parse(json));
    if (!result.success) return undefined;
    parsed = result.data;
  } catch {
    return undefined;
  }
  const brokers = Object.values(parsed.brokers);
  const partitions: PartitionLag[] = [];
  for (const [topic, { partitions: parts }] of Object.entries(parsed.topics)) {
    for (const p of Object.values(parts)) {
      if (p.partition < 0 || p.fetch_state === 'none') continue;
      const known = (offset: number | undefined): number | undefined => (offset === undefined || offset < 0 ? undefined : offset);
      partitions.push({ topic, partition: p.partition, lag: known(p.consumer_lag), endOffset: known(p.ls_offset), startOffset: known(p.lo_offset) });
    }
  }
  return { brokersUp: brokers.filter((b) => b.state === 'UP').length, brokersKnown: brokers.length, partitions };
}
