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
        // Records of a partition handed out past its oldest unfinished one. A solution that runs
        // for seconds holds its partition's window, and the malformed records behind it flow only
        // while the window has room (at 1,000, about 1,000 dead letters/s behind interleaved
        // solutions). Records are small (a solution's source and stdin): a few MB per partition.
        maxInFlightPerPartition: 5_000,
        // The embedded mock cluster speaks KIP-848, which joins without the classic 3 s delay.
        groupProtocol: input.groupProtocol ?? (input.embedded ? 'consumer' : 'classic'),
        // Heartbeats follow from it by the consumer base's one rule.
        ...(input.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: input.sessionTimeoutMs }),
      },
    },
  };
}
