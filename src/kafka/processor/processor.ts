import { z } from 'zod';
import { kafkaSource, type KafkaSourceOptions } from '../consumer/source.js';
import { createProducer, produceTo } from '../producer/sink.js';
import { startExactlyOnce, type RunningProcessor, type Transform } from './exactly-once.js';
import type { ConsumerGroupTuning } from '../consumer/group.js';
import type { KafkaClientConfig } from '../client/config.js';
import type { ConsumedRecord } from '../client/record.js';
import { TracestreamError } from '../../errors/index.js';

/**
 * How outputs and input offsets are tied together.
 * - 'at-least-once' (default): outputs are produced, then the input is acked and its offset
 *   committed; after a crash some outputs may be produced twice, so consumers dedupe by key.
 *   No transaction cost: throughput is the client's.
 * - 'exactly-once': outputs and offsets commit in one Kafka transaction (a few broker round trips
 *   each, so records are batched); read_committed readers see each output once.
 */
export type DeliveryGuarantee = 'at-least-once' | 'exactly-once';

export interface ProcessorOptions {
  client: KafkaClientConfig;
  groupId: string;
  topics: string[];
  transform: Transform;
  guarantee?: DeliveryGuarantee;
  /** Required for 'exactly-once': unique per running instance. */
  transactionalId?: string;
  /**
   * Called once per input whose outputs were all acknowledged by the brokers (at-least-once: just
   * before its ack; exactly-once: once its transaction committed). For metrics; keep it cheap.
   */
  delivered?: (record: ConsumedRecord) => void;
  /** at-least-once: records whose outputs are being delivered at once. */
  maxInFlight?: number;
  /**
   * Consumer tuning. Group membership (groupProtocol, sessionTimeoutMs, heartbeatIntervalMs,
   * fromBeginning, fetchWaitMaxMs, connectTimeoutMs, clusterProbeIntervalMs, clusterDownTimeoutMs,
   * log) applies under both guarantees, through the
   * one consumer base; the rest (maxInFlightPerPartition, commitIntervalMs, ...) is the
   * at-least-once source's.
   */
  source?: Omit<KafkaSourceOptions, 'client' | 'groupId' | 'topics'>;
  /** exactly-once batching. */
  maxBatch?: number;
  batchTimeoutMs?: number;
}

const guaranteeSchema = z.enum(['at-least-once', 'exactly-once']).default('at-least-once');

/**
 * Consume-transform-produce with the guarantee chosen by one option.
 *
 * @example
 * const processor = startProcessor({ client, groupId: 'enrich', topics: ['in'], transform: (r) => [{ topic: 'out', key: r.key, value: r.value }] })
 * await processor.close()
 */
export function startProcessor(options: ProcessorOptions): RunningProcessor {
  const guarantee = guaranteeSchema.parse(options.guarantee);
  if (guarantee === 'exactly-once') {
    if (options.transactionalId === undefined) {
      throw new TracestreamError('CONFIG_INVALID', "startProcessor.transactionalId is required when guarantee is 'exactly-once'");
    }
    return startExactlyOnce({
      ...groupTuningOf(options.source ?? {}),
      client: options.client, groupId: options.groupId, topics: options.topics, transform: options.transform,
      transactionalId: options.transactionalId,
      ...(options.delivered === undefined ? {} : { delivered: options.delivered }),
      ...(options.maxBatch === undefined ? {} : { maxBatch: options.maxBatch }),
      ...(options.batchTimeoutMs === undefined ? {} : { batchTimeoutMs: options.batchTimeoutMs }),
    });
  }
  const source = kafkaSource({ ...options.source, client: options.client, groupId: options.groupId, topics: options.topics });
  const delivered = options.delivered;
  let closing: Promise<void> | undefined;
  const done = (async () => {
    const producer = await createProducer({ client: options.client });
    let failed = false;
    try {
      await new Promise<void>((resolve, reject) => {
        source.records
          .pipe(produceTo(producer, options.transform, { maxInFlight: options.maxInFlight ?? 64 }))
          .subscribe({
            next: delivered === undefined ? (record) => record.ack() : (record) => {
              delivered(record);
              record.ack();
            },
            error: reject,
            complete: resolve,
          });
      });
      await closing;
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      const teardown = async (): Promise<void> => {
        await source.close();
        await producer.close();
      };
      // The flow's error wins: a final commit that cannot land on a dead cluster must not hide why
      // the flow stopped (the source logs its commit failures itself).
      if (failed) await teardown().catch(() => undefined);
      else await teardown();
    }
  })();
  done.catch(() => {});
  return {
    done,
    close() {
      closing ??= source.close();
      return done;
    },
  };
}

/** The consumer group settings of source options: the same membership under either guarantee. */
function groupTuningOf(source: NonNullable<ProcessorOptions['source']>): ConsumerGroupTuning {
  const tuning: ConsumerGroupTuning = {};
  for (const key of GROUP_TUNING_KEYS) {
    if (source[key] !== undefined) Object.assign(tuning, { [key]: source[key] });
  }
  return tuning;
}

const GROUP_TUNING_KEYS = [
  'fromBeginning', 'sessionTimeoutMs', 'heartbeatIntervalMs', 'groupProtocol', 'fetchWaitMaxMs', 'connectTimeoutMs', 'log', 'observer',
  'clusterProbeIntervalMs', 'clusterDownTimeoutMs',
] as const satisfies readonly (keyof ConsumerGroupTuning)[];
