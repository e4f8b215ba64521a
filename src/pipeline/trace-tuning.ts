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
    processor: {
      // Enough solutions in flight that every executor has a run waiting while other solutions'
      // outputs are encoded and delivered; never more than the pool's slots plus its queue, since a
      // solution's inputs run one by one (so the pool never refuses a run).
      maxInFlight: Math.min(concurrency * 4, concurrency + maxQueued),
      source: {
        // The embedded mock cluster speaks KIP-848, which joins without the classic 3 s delay.
        groupProtocol: input.groupProtocol ?? (input.embedded ? 'consumer' : 'classic'),
        // Heartbeats follow from it by the consumer base's one rule.
        ...(input.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: input.sessionTimeoutMs }),
      },
    },
  };
}
