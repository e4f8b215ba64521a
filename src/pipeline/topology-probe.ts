import type { ConsumedRecord, ConsumerObserver, ConsumerStatistics, OutgoingRecord } from '../kafka/index.js';
import type { Readiness, TopologyMetrics } from '../telemetry/index.js';

interface PendingOutputs {
  outputs: readonly OutgoingRecord[];
  deadLetterReason: string | undefined;
}

/**
 * Where a consumer that keeps its input position itself (not as a group's committed offsets, which
 * librdkafka's lag is measured from) stands in a partition: the next offset it will take, or
 * undefined when it has taken none yet (it reads the partition from its start).
 */
export type PositionOf = (topic: string, partition: number) => number | undefined;

export interface TopologyProbeOptions {
  /** How often librdkafka reports statistics (lag, brokers up); default 5000. */
  statisticsIntervalMs?: number;
  /** For a consumer without group commits (the trainer keeps its offsets in its checkpoint): its lag is the partition's end minus this. */
  position?: PositionOf;
}

/** Records from `position` to the partition's end; undefined while either is unknown. */
function lagBehindEnd(position: number | undefined, end: number | undefined): number | undefined {
  return position === undefined || end === undefined ? undefined : Math.max(0, end - position);
}

/**
 * What a topology tells its telemetry, in the order things happen to an input record: consumed,
 * outputs made, outputs delivered. It keeps the metrics and answers readiness from the consumer's
 * own callbacks (assignments, librdkafka statistics), so `/readyz` never waits on the broker.
 *
 * @example
 * const probe = new TopologyProbe(metrics, 'solutions')
 * startProcessor({ ..., source: { observer: probe.observer }, delivered: (r) => probe.delivered(r),
 *   transform: async (r) => { probe.consumed(r); const out = await work(r); probe.produced(r, out); return out } })
 * probe.started()
 */
export class TopologyProbe {
  readonly observer: ConsumerObserver;
  readonly #metrics: TopologyMetrics;
  readonly #inputTopic: string;
  readonly #pending = new WeakMap<ConsumedRecord, PendingOutputs>();
  #started = false;
  #stopping = false;
  #owned = 0;
  /** From the latest statistics; undefined until the first arrive (assignment then vouches for the brokers). */
  #brokersUp: number | undefined;
  /** Why the cluster counts as unreachable (the consumer's probes fail); undefined while it answers. */
  #unreachable: string | undefined;
  readonly #position: PositionOf | undefined;

  constructor(metrics: TopologyMetrics, inputTopic: string, options: TopologyProbeOptions = {}) {
    this.#metrics = metrics;
    this.#inputTopic = inputTopic;
    this.#position = options.position;
    this.observer = {
      statisticsIntervalMs: options.statisticsIntervalMs ?? 5_000,
      assignment: (owned, change) => {
        this.#owned = owned.length;
        metrics.assignedPartitions.set(owned.length);
        if (change === 'revoked') metrics.restarts.inc({ component: 'consumer' });
      },
      cluster: (reachable, detail) => {
        this.#unreachable = reachable ? undefined : detail;
      },
      statistics: (stats) => this.#onStatistics(stats),
    };
  }

  /** The topology's own resources (executors, schemas) are up. */
  started(): void {
    this.#started = true;
  }

  /** Shutdown began: not ready any more, so no new work is routed here while it drains. */
  stopping(): void {
    this.#stopping = true;
  }

  consumed(record: ConsumedRecord): void {
    this.#metrics.recordsIn.inc({ topic: record.topic });
    this.#metrics.inFlight.inc();
  }

  /** The outputs made for `record`; `deadLetterReason` (a label, see deadLetterReason) when it was dead-lettered. */
  produced(record: ConsumedRecord, outputs: readonly OutgoingRecord[], deadLetterReason?: string): void {
    this.#pending.set(record, { outputs, deadLetterReason });
  }

  /** A program ran: its outcome (ok, error, timeout, ...) and wall-clock time. */
  ran(outcome: string, wallTimeMs: number): void {
    this.#metrics.executorOutcomes.inc({ outcome });
    this.#metrics.runDurationSeconds.observe({ outcome }, wallTimeMs / 1000);
  }

  /** Every output of `record` was acknowledged by the brokers. */
  delivered(record: ConsumedRecord): void {
    this.#metrics.inFlight.dec();
    const pending = this.#pending.get(record);
    if (pending === undefined) return;
    this.#pending.delete(record);
    if (pending.deadLetterReason !== undefined) this.#metrics.deadLetters.inc({ reason: pending.deadLetterReason });
    // Outputs come in runs of one topic (a trace, then its diffs): one increment per run.
    const { outputs } = pending;
    for (let start = 0; start < outputs.length;) {
      const topic = outputs[start]!.topic;
      let end = start + 1;
      while (end < outputs.length && outputs[end]!.topic === topic) end++;
      this.#metrics.recordsOut.inc({ topic }, end - start);
      start = end;
    }
  }

  readiness(): Readiness {
    if (this.#stopping) return { ready: false, reason: 'shutting down (draining in-flight records)' };
    if (!this.#started) return { ready: false, reason: 'starting (executors, schemas, group join)' };
    if (this.#unreachable !== undefined) return { ready: false, reason: `Kafka cluster unreachable (${this.#unreachable})` };
    if (this.#brokersUp === 0) return { ready: false, reason: 'no Kafka broker reachable (librdkafka statistics)' };
    if (this.#owned === 0) {
      return { ready: false, reason: `no partition of ${this.#inputTopic} assigned (group joining, or more replicas than partitions)` };
    }
    return { ready: true, reason: `${this.#owned} partition(s) of ${this.#inputTopic} assigned${this.#brokersUp === undefined ? '' : `, ${this.#brokersUp} broker connection(s) up`}` };
  }

  #onStatistics(stats: ConsumerStatistics): void {
    this.#brokersUp = stats.brokersUp;
    const lag = this.#metrics.consumerLag;
    // Partitions given up since the last report must not keep their old lag.
    lag.reset();
    for (const p of stats.partitions) {
      const behind = this.#position === undefined ? p.lag : lagBehindEnd(this.#position(p.topic, p.partition) ?? p.startOffset, p.endOffset);
      if (behind !== undefined) lag.set({ topic: p.topic, partition: String(p.partition) }, behind);
    }
  }
}
