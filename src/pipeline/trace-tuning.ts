import { availableParallelism } from 'node:os';
import type { ProcessorOptions } from '../kafka/index.js';

export interface TraceTuningInput {
  /** Programs run at once; default: the machine's cores. */
  concurrency?: number | undefined;
  /** Runs the pool queues beyond its slots; default 4 per slot (the pool's own default). */
  maxQueued?: number | undefined;
  /** True on the embedded mock cluster. */
  embedded: boolean;
  groupProtocol?: 'classic' | 'consumer' | undefined;
  sessionTimeoutMs?: number | undefined;
  clusterDownTimeoutMs?: number | undefined;
  clusterProbeIntervalMs?: number | undefined;
}

export interface TraceTuning {
  concurrency: number;
  /** Solutions executing at once (see limitConcurrency); records that need no run pass by. */
  executing: number;
  processor: Pick<ProcessorOptions, 'maxInFlight' | 'source'>;
}

/**
 * How much the trace topology keeps in flight, and how its consumer joins its group: the policy,
 * apart from the flow it tunes.
 */
export function traceTuning(input: TraceTuningInput): TraceTuning {
  const concurrency = input.concurrency ?? availableParallelism();
  const maxQueued = input.maxQueued ?? 4 * concurrency;
  return {
    concurrency,
    // Enough solutions executing that every executor has a run waiting while other solutions'
    // outputs are encoded and delivered; never more than the pool's slots plus its queue, since a
    // solution's inputs run one by one (so the pool never refuses a run).
    executing: Math.min(concurrency * 4, concurrency + maxQueued),
    processor: {
      // Dead letters take one delivery round trip each and no executor: with records in flight tied
      // to the executors (8 on 2 cores), a burst of malformed records went at 8 per round trip.
      maxInFlight: 2_000,
      source: {
        // Unacked records of a partition: the solutions executing or waiting for an executor, and
        // the malformed records whose dead letters are being delivered. A solution that runs for
        // seconds holds only its own slot, so the records behind it keep flowing. Records are small
        // (a solution's source and stdin): at most a few MB per partition.
        maxInFlightPerPartition: 1_000,
        // The embedded mock cluster speaks KIP-848, which joins without the classic 3 s delay.
        groupProtocol: input.groupProtocol ?? (input.embedded ? 'consumer' : 'classic'),
        // Heartbeats follow from it by the consumer base's one rule.
        ...(input.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: input.sessionTimeoutMs }),
        ...(input.clusterDownTimeoutMs === undefined ? {} : { clusterDownTimeoutMs: input.clusterDownTimeoutMs }),
        ...(input.clusterProbeIntervalMs === undefined ? {} : { clusterProbeIntervalMs: input.clusterProbeIntervalMs }),
      },
    },
  };
}
