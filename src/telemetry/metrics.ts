import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, exponentialBuckets } from 'prom-client';
import { isTracestreamError } from '../errors/index.js';

/**
 * A registry for one process, with prom-client's process and Node.js metrics (CPU, memory, event
 * loop lag, `process_start_time_seconds`, whose change is a restart) already in it. Other modules
 * register their own gauges and counters in it, e.g. `new Gauge({ name, help, registers: [registry] })`.
 */
export function createMetricsRegistry(options: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * The metrics every topology reports, under names shared by all of them so one dashboard serves
 * every workload. Labels have bounded values only (topic names, outcomes, error codes), never ids.
 */
export interface TopologyMetrics {
  readonly registry: Registry;
  /** Records consumed, by topic. */
  readonly recordsIn: Counter<'topic'>;
  /** Records produced and acknowledged by the brokers, by topic. */
  readonly recordsOut: Counter<'topic'>;
  /** Inputs sent to a dead-letter topic, by reason class (see `deadLetterReason`). */
  readonly deadLetters: Counter<'reason'>;
  /** Records behind the partition's end, per owned partition (librdkafka's statistics). */
  readonly consumerLag: Gauge<'topic' | 'partition'>;
  /** Partitions this process owns now (0: not serving, e.g. more replicas than partitions). */
  readonly assignedPartitions: Gauge;
  /** Input records being processed now (consumed, outputs not yet acknowledged). */
  readonly inFlight: Gauge;
  /**
   * Components started again inside this process: `consumer` on every rebalance that took
   * partitions away (their work restarts elsewhere or here from the last commit). Restarts of the
   * process itself show as a new `process_start_time_seconds` and in the kubelet's restart count.
   */
  readonly restarts: Counter<'component'>;
  /** Program runs by outcome (ok, error, timeout, memory, ...). */
  readonly executorOutcomes: Counter<'outcome'>;
  /** Wall-clock seconds of each run, by outcome. */
  readonly runDurationSeconds: Histogram<'outcome'>;
}

const created = new WeakMap<Registry, TopologyMetrics>();

/**
 * The topology metrics in `registry`, created on first use: a process that runs several
 * topologies (or asks twice) shares one set instead of failing on a duplicate name.
 */
export function topologyMetrics(registry: Registry): TopologyMetrics {
  const existing = created.get(registry);
  if (existing !== undefined) return existing;
  const registers = [registry];
  const metrics: TopologyMetrics = {
    registry,
    recordsIn: new Counter({ name: 'tracestream_records_in_total', help: 'Records consumed, by topic.', labelNames: ['topic'], registers }),
    recordsOut: new Counter({ name: 'tracestream_records_out_total', help: 'Records produced and acknowledged by the brokers, by topic.', labelNames: ['topic'], registers }),
    deadLetters: new Counter({ name: 'tracestream_dead_letters_total', help: 'Inputs sent to the dead-letter topic, by reason class.', labelNames: ['reason'], registers }),
    consumerLag: new Gauge({ name: 'tracestream_consumer_lag_records', help: 'Records between the committed offset and the end of each owned partition.', labelNames: ['topic', 'partition'], registers }),
    assignedPartitions: new Gauge({ name: 'tracestream_assigned_partitions', help: 'Partitions this process owns now.', registers }),
    inFlight: new Gauge({ name: 'tracestream_in_flight_records', help: 'Input records being processed (consumed, outputs not yet acknowledged).', registers }),
    restarts: new Counter({ name: 'tracestream_restarts_total', help: 'Components started again inside this process (consumer: partitions revoked by a rebalance).', labelNames: ['component'], registers }),
    executorOutcomes: new Counter({ name: 'tracestream_executor_runs_total', help: 'Program runs, by outcome.', labelNames: ['outcome'], registers }),
    runDurationSeconds: new Histogram({
      name: 'tracestream_executor_run_duration_seconds',
      help: 'Wall-clock time of each program run, by outcome.',
      labelNames: ['outcome'],
      // 5 ms to ~20 s: most runs take tens of milliseconds; the wall-clock limit is 10 s by default.
      buckets: exponentialBuckets(0.005, 2, 13),
      registers,
    }),
  };
  created.set(registry, metrics);
  return metrics;
}

/**
 * The label for a dead letter's reason: the error code when the error is ours, else the reason's
 * text before its first ':' (our reasons are fixed phrases followed by details), at most 64
 * characters. A label must take few values; the full reason stays in the dead letter itself.
 */
export function deadLetterReason(reason: string, error: unknown): string {
  if (isTracestreamError(error)) return error.code;
  const head = reason.split(':', 1)[0]!.trim();
  return head.length === 0 ? 'unknown' : head.slice(0, 64);
}
