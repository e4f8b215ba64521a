import { z } from 'zod';
import type { LibrdKafkaError, Message, TopicPartition, TopicPartitionOffset } from '@confluentinc/kafka-javascript';
import { AggregateTracestreamError, TracestreamError } from '../../errors/index.js';
import { CODES, callbackToPromise, kafkaError, type NativeConsumer } from '../client/native.js';
import { parseOptions, stderrLogger } from '../client/config.js';
import { metadataProbe, watchCluster } from '../consumer/cluster-watch.js';
import { connectGroupConsumer, consumerGroupShape, createGroupConsumer, disconnectGroupConsumer, withHeartbeatRule } from '../consumer/group.js';
import { toConsumedRecord, type ConsumedRecord, type OutgoingRecord } from '../client/record.js';
import { connectProducer, type NativeProducerHandle } from '../producer/sink.js';

const exactlyOnceSchema = withHeartbeatRule(z.object({
  ...consumerGroupShape,
  /** Unique per running instance; a restarted instance reusing it fences its predecessor. */
  transactionalId: z.string().min(1),
  /** Records per transaction. Each transaction costs several broker round trips (measured ~370 ms in an earlier session), so batch generously. */
  maxBatch: z.number().int().positive().max(100_000).default(1000),
  /** How long a batch collects records before its transaction starts with what it has. */
  batchTimeoutMs: z.number().int().positive().max(60_000).default(100),
  /** Bound on each transactional call (init, send offsets, commit, abort). */
  transactionTimeoutMs: z.number().int().positive().default(30_000),
  /** Failed transactions in a row (each aborted and rewound) before the processor gives up. */
  maxAttempts: z.number().int().positive().default(5),
}));

export type Transform = (record: ConsumedRecord) => readonly OutgoingRecord[] | Promise<readonly OutgoingRecord[]>;
export type ExactlyOnceOptions = z.input<typeof exactlyOnceSchema> & {
  transform: Transform;
  /** Called for each input once the transaction holding its outputs committed. */
  delivered?: (record: ConsumedRecord) => void;
};

/** A running consume-transform-produce loop. */
export interface RunningProcessor {
  /** Settles when the loop stops: resolves after close(), rejects with the error that stopped it. */
  readonly done: Promise<void>;
  /** Finishes the current transaction, stops, disconnects. Idempotent. */
  close(): Promise<void>;
}

interface ConsumerExtras {
  rebalanceProtocol(): 'NONE' | 'EAGER' | 'COOPERATIVE';
  incrementalAssign(assignment: TopicPartition[]): void;
  incrementalUnassign(assignment: TopicPartition[]): void;
}

/**
 * Exactly-once consume-transform-produce: collects up to `maxBatch` records (or what arrived in
 * `batchTimeoutMs`), then in one transaction produces all their outputs and commits the consumed
 * offsets (`sendOffsetsToTransaction`). A failed transaction is aborted and the consumer rewound
 * to the batch's first offsets, so the batch is processed again; readers with
 * isolation.level=read_committed never see the aborted outputs. `transform` acks are no-ops here:
 * the transaction is the ack. A throwing `transform` stops the processor (dead-letter inside it).
 */
export function startExactlyOnce(options: ExactlyOnceOptions): RunningProcessor {
  const { transform, delivered, ...rest } = options;
  const config = parseOptions(exactlyOnceSchema, rest, 'startExactlyOnce');
  const log = config.log ?? stderrLogger;
  let stopped = false;
  let busy = false;
  const deferred: (() => void)[] = [];
  const owned = new Set<string>();
  const key = (tp: TopicPartition): string => `${tp.partition}:${tp.topic}`;

  const consumer = createGroupConsumer(config, {
    role: 'txn-consumer',
    rebalance: (err, assignment) => {
      // A rebalance delivered mid-transaction waits for the transaction to finish first.
      const apply = (): void => applyRebalance(err, assignment);
      if (busy) deferred.push(apply);
      else apply();
    },
  }) as NativeConsumer & ConsumerExtras;
  consumer.setDefaultConsumeTimeout(config.batchTimeoutMs);

  function applyRebalance(err: LibrdKafkaError, assignment: TopicPartition[]): void {
    const cooperative = consumer.rebalanceProtocol() === 'COOPERATIVE';
    try {
      if (err.code === CODES.ERRORS.ERR__ASSIGN_PARTITIONS) {
        for (const tp of assignment) owned.add(key(tp));
        if (cooperative) consumer.incrementalAssign(assignment);
        else consumer.assign(assignment);
      } else {
        for (const tp of assignment) owned.delete(key(tp));
        if (cooperative) consumer.incrementalUnassign(assignment);
        else consumer.unassign();
      }
    } catch (error) {
      if (consumer.isConnected()) log.warn('assign/unassign failed', { error: String(error) });
    }
    config.observer?.assignment?.(
      [...owned].map((k) => ({ topic: k.slice(k.indexOf(':') + 1), partition: Number(k.slice(0, k.indexOf(':'))) })),
      err.code === CODES.ERRORS.ERR__ASSIGN_PARTITIONS ? 'assigned' : 'revoked',
    );
  }

  const txn = (what: string) => (err: LibrdKafkaError) => kafkaError('KAFKA_TRANSACTION_FAILED', `${what} failed for ${config.transactionalId}`, err);

  async function processBatch(producer: NativeProducerHandle, messages: readonly Message[]): Promise<void> {
    const native = producer.native;
    await callbackToPromise((done) => native.beginTransaction(done), txn('beginTransaction'));
    const outputs: OutgoingRecord[] = [];
    const next = new Map<string, TopicPartitionOffset>();
    const records: ConsumedRecord[] = [];
    for (const message of messages) {
      const record = toConsumedRecord(message, () => {});
      records.push(record);
      outputs.push(...(await transform(record)));
      next.set(key(message), { topic: message.topic, partition: message.partition, offset: message.offset + 1 });
    }
    await producer.send(outputs);
    await callbackToPromise(
      (done) => native.sendOffsetsToTransaction([...next.values()], consumer, config.transactionTimeoutMs, done),
      txn('sendOffsetsToTransaction'),
    );
    await callbackToPromise((done) => native.commitTransaction(config.transactionTimeoutMs, done), txn('commitTransaction'));
    if (delivered !== undefined) for (const record of records) delivered(record);
  }

  async function rewind(producer: NativeProducerHandle, messages: readonly Message[]): Promise<void> {
    await callbackToPromise((done) => producer.native.abortTransaction(config.transactionTimeoutMs, done), txn('abortTransaction'));
    const first = new Map<string, TopicPartitionOffset>();
    for (const m of messages) if (!first.has(key(m))) first.set(key(m), { topic: m.topic, partition: m.partition, offset: m.offset });
    for (const position of first.values()) {
      if (!owned.has(key(position))) continue;
      await callbackToPromise(
        (done) => consumer.seek(position, config.transactionTimeoutMs, done),
        (err) => kafkaError('KAFKA_CONSUME_FAILED', `could not rewind ${position.topic}[${position.partition}] to ${position.offset}`, err),
      );
    }
  }

  async function run(): Promise<void> {
    await connectGroupConsumer(consumer, config);
    const producer = await connectProducer({ client: config.client, transactionalId: config.transactionalId, lingerMs: 5 });
    const errors: unknown[] = [];
    let stopWatching = (): void => undefined;
    try {
      await callbackToPromise((done) => producer.native.initTransactions(config.transactionTimeoutMs, done), txn('initTransactions'));
      consumer.subscribe(config.topics);
      // A lasting outage stops the loop at its next turn (one consume timeout at most), even when idle.
      let lost: TracestreamError | undefined;
      stopWatching = watchCluster({
        probe: metadataProbe(consumer, config.topics[0]!, Math.min(config.clusterProbeIntervalMs, 5_000)),
        intervalMs: config.clusterProbeIntervalMs,
        downTimeoutMs: config.clusterDownTimeoutMs,
        onReachable: (reachable, detail) => config.observer?.cluster?.(reachable, detail),
        onLost: (error) => { lost = error; },
      });
      let failures = 0;
      while (!stopped) {
        if (lost !== undefined) throw lost;
        const fetched = await callbackToPromise<Message[]>(
          (done) => consumer.consume(config.maxBatch, done),
          (err) => kafkaError('KAFKA_CONSUME_FAILED', `consumer of group ${config.groupId} failed`, err),
        );
        const batch = fetched.filter((m) => owned.has(key(m)));
        if (batch.length === 0) continue;
        busy = true;
        try {
          await processBatch(producer, batch);
          failures = 0;
        } catch (error) {
          failures++;
          await rewind(producer, batch);
          const retriable = error instanceof TracestreamError && (error.retriable || error.code === 'KAFKA_TRANSACTION_FAILED');
          if (!retriable || failures >= config.maxAttempts) throw error;
          log.warn('transaction aborted and batch rewound; retrying', { attempt: failures, error: String(error) });
        } finally {
          busy = false;
          for (const apply of deferred.splice(0)) apply();
        }
      }
    } catch (error) {
      errors.push(error);
    } finally {
      stopWatching();
      await producer.close().catch((error: unknown) => errors.push(error));
      await disconnectGroupConsumer(consumer, config).catch((error: unknown) => errors.push(error));
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateTracestreamError('KAFKA_TRANSACTION_FAILED', `exactly-once processor ${config.transactionalId} failed`, errors);
  }

  const done = run();
  done.catch(() => {});
  return {
    done,
    close() {
      stopped = true;
      return done;
    },
  };
}
