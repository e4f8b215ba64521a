import { TracestreamError, describeError } from '../../errors/index.js';
import type { KafkaLogger } from '../client/config.js';
import { callbackToPromise, kafkaError, type NativeConsumer } from '../client/native.js';
import type { SourceConfig } from './source.js';

export interface ClusterWatchOptions {
  /** One round trip to the cluster; rejects when no broker answered. */
  probe(): Promise<void>;
  /** How often the cluster is probed while it answers. */
  intervalMs: number;
  /** How long every probe may fail before the watch gives up (`onLost`). */
  downTimeoutMs: number;
  /** The cluster stopped answering (false) or answers again (true); for readiness. */
  onReachable(reachable: boolean, detail: string): void;
  /** It stayed unreachable for downTimeoutMs: KAFKA_DISCONNECTED, with the last probe's failure as cause. */
  onLost(error: TracestreamError): void;
}

/** First wait before an unreachable cluster is probed again; it doubles up to intervalMs. */
const FIRST_RETRY_MS = 250;

/**
 * Probes the cluster every `intervalMs`, whatever the consumer is doing: a consumer with nothing
 * to read hears of dead brokers only from librdkafka's error events (which carry no usable code in
 * the binding) and retries forever on its own. After a failed probe it probes again with backoff;
 * if none succeeds within `downTimeoutMs` it calls `onLost` once and stops. Returns its teardown.
 *
 * @example
 * const stop = watchCluster({ probe: () => metadataProbe(consumer, topic, 2_000), intervalMs: 5_000, downTimeoutMs: 60_000,
 *   onReachable: (up) => probe.cluster(up), onLost: (error) => subscriber.error(error) })
 */
export function watchCluster(options: ClusterWatchOptions): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let downSince: number | undefined;
  let retryMs = FIRST_RETRY_MS;
  const schedule = (delayMs: number): void => {
    if (stopped) return;
    timer = setTimeout(probeOnce, delayMs);
  };
  const probeOnce = (): void => {
    // A probe fails only after its own timeout: the outage counts from when the probe was sent.
    const sentAt = Date.now();
    options.probe().then(
      () => {
        if (stopped) return;
        if (downSince !== undefined) options.onReachable(true, 'a broker answers again');
        downSince = undefined;
        retryMs = FIRST_RETRY_MS;
        schedule(options.intervalMs);
      },
      (error: unknown) => {
        if (stopped) return;
        const now = Date.now();
        if (downSince === undefined) {
          downSince = sentAt;
          options.onReachable(false, `no broker answers: ${describeError(error)}`);
        }
        if (now - downSince >= options.downTimeoutMs) {
          stopped = true;
          options.onLost(new TracestreamError('KAFKA_DISCONNECTED', `no Kafka broker answered for ${now - downSince} ms (limit ${options.downTimeoutMs} ms): ${describeError(error)}`, {
            cause: error, details: { downForMs: now - downSince },
          }));
          return;
        }
        schedule(Math.min(retryMs, options.intervalMs, Math.max(0, downSince + options.downTimeoutMs - now)));
        retryMs *= 2;
      },
    );
  };
  schedule(options.intervalMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** A probe for watchCluster: the metadata of `topic` (one small request), failing after timeoutMs. */
export function metadataProbe(consumer: NativeConsumer, topic: string, timeoutMs: number): () => Promise<void> {
  return () => callbackToPromise(
    (done) => consumer.getMetadata({ topic, timeout: timeoutMs }, (err) => done(err)),
    (err) => kafkaError('KAFKA_DISCONNECTED', `no broker answered a metadata request for ${topic} within ${timeoutMs} ms`, err),
  );
}

/**
 * The watch every source runs on its consumer's cluster: an outage is logged and told to the
 * source's observer (readiness); one that lasts `clusterDownTimeoutMs` calls `onLost`. Returns its teardown.
 */
export function watchSourceCluster(consumer: NativeConsumer, config: SourceConfig, log: KafkaLogger, onLost: (error: TracestreamError) => void): () => void {
  const { clusterProbeIntervalMs, clusterDownTimeoutMs, observer } = config;
  return watchCluster({
    probe: metadataProbe(consumer, config.topics[0]!, Math.min(clusterProbeIntervalMs, 5_000)),
    intervalMs: clusterProbeIntervalMs,
    downTimeoutMs: clusterDownTimeoutMs,
    onReachable: (reachable, detail) => {
      if (!reachable) log.warn('Kafka cluster unreachable; probing again with backoff', { groupId: config.groupId, detail, giveUpAfterMs: clusterDownTimeoutMs });
      observer?.cluster?.(reachable, detail);
    },
    onLost,
  });
}
