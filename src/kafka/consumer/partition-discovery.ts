/** A partition of a topic. */
export interface TopicPartitionId {
  topic: string;
  partition: number;
}

export interface PartitionDiscoveryOptions {
  topics: readonly string[];
  /** How long between two looks at the topics' partitions. */
  intervalMs: number;
  /** The partition ids a topic has now (from the cluster's metadata). */
  partitionsOf: (topic: string) => Promise<number[]>;
  /** True when the reader already reads this partition. */
  has: (partition: TopicPartitionId) => boolean;
  /** Starts reading partitions that appeared; the next look waits until it settles. */
  add: (partitions: TopicPartitionId[]) => Promise<void>;
  /** A look that failed (metadata unavailable); the next one tries again. */
  onError: (error: unknown) => void;
}

/**
 * Notices partitions added to topics while a reader that assigns partitions itself (no consumer
 * group, so no rebalance tells it) runs: a topic on a real cluster grows partitions when its load
 * does. Every `intervalMs` it reads the partitions of each topic and hands the new ones to `add`.
 * Returns the teardown that stops it.
 */
export function discoverPartitions(options: PartitionDiscoveryOptions): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const look = async (): Promise<void> => {
    try {
      const appeared: TopicPartitionId[] = [];
      for (const topic of options.topics) {
        for (const partition of await options.partitionsOf(topic)) {
          if (!options.has({ topic, partition })) appeared.push({ topic, partition });
        }
      }
      if (appeared.length > 0 && !stopped) await options.add(appeared);
    } catch (error) {
      if (!stopped) options.onError(error);
    }
    if (!stopped) timer = setTimeout(() => void look(), options.intervalMs);
  };
  timer = setTimeout(() => void look(), options.intervalMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
