import { Observable, type OperatorFunction } from 'rxjs';
import { z } from 'zod';
import type { LibrdKafkaError, MessageHeader, ProducerGlobalConfig } from '@confluentinc/kafka-javascript';
import { TracestreamError } from '../../errors/index.js';
import { CODES, Producer, callbackToPromise, kafkaError, type NativeProducer } from '../client/native.js';
import { clientConfigSchema, nativeClientConfig, parseOptions } from '../client/config.js';
import { DeliveryTracker, newBatch, recordFailed, type DeliveryBatch } from './deliveries.js';
import { PartitionCounts } from './partitioner.js';
import type { OutgoingRecord } from '../client/record.js';

const producerSchema = z.object({
  client: clientConfigSchema,
  /** How long librdkafka waits to fill a batch; higher trades latency for throughput. */
  lingerMs: z.number().int().nonnegative().max(60_000).default(5),
  /**
   * A record not acknowledged by the brokers within this time fails with KAFKA_DELIVERY_FAILED; the
   * first record for a topic also waits at most this long for the topic's partition count.
   */
  deliveryTimeoutMs: z.number().int().positive().default(30_000),
  /** Records buffered in librdkafka; past it `send` waits for deliveries to make room. */
  maxQueuedRecords: z.number().int().positive().max(10_000_000).default(100_000),
  /** Set for a transactional producer (see processor/exactly-once.ts); unset: idempotent, not transactional. */
  transactionalId: z.string().min(1).optional(),
  /** How long `close()` waits for queued records before disconnecting. */
  closeTimeoutMs: z.number().int().positive().default(10_000),
  /** How often the partition counts of the topics produced to are read again (a topic may grow). */
  metadataMaxAgeMs: z.number().int().positive().default(5 * 60_000),
  /** How long connecting (the first metadata answer) may take before it fails. */
  connectTimeoutMs: z.number().int().positive().default(30_000),
});

export type ProducerOptions = z.input<typeof producerSchema>;

/** A connected producer. */
export interface KafkaProducer {
  /**
   * Produces the records and resolves once every one was acknowledged by the brokers (acks=all).
   * Rejects with KAFKA_DELIVERY_FAILED naming the topic/partition of the failed record; `retriable`
   * comes from librdkafka. A record the brokers refuse fails every send in flight on this producer
   * (see DeliveryTracker); one that cannot even be queued (too large) fails its own send only.
   */
  send(records: readonly OutgoingRecord[]): Promise<void>;
  /**
   * `send` for hot paths (produceTo): `done` is called once, with the failure or undefined once
   * every record was acknowledged. No promise chain per call, which doubled produceTo's cost.
   */
  deliver(records: readonly OutgoingRecord[], done: (failure: TracestreamError | undefined) => void): void;
  /** Waits for queued records (up to closeTimeoutMs) and disconnects. Idempotent. */
  close(): Promise<void>;
}

/** The native handle behind a producer, for the transactional helper. */
export interface NativeProducerHandle extends KafkaProducer {
  readonly native: NativeProducer;
}

/**
 * Connects an idempotent producer (acks=all, no duplicates on retry). It picks every record's
 * partition itself, as Kafka's Java client does by default (murmur2 of the key; round-robin without
 * one), and reads each topic's partition count before its first record.
 *
 * @example
 * const producer = await createProducer({ client })
 * await producer.send([{ topic: 'steps', key: runId, value: encoded }])
 * await producer.close()
 */
export async function createProducer(options: ProducerOptions): Promise<KafkaProducer> {
  return connectProducer(options);
}

export async function connectProducer(options: ProducerOptions): Promise<NativeProducerHandle> {
  const config = parseOptions(producerSchema, options, 'createProducer');
  const native = new Producer({
    ...nativeClientConfig(config.client, config.transactionalId === undefined ? 'producer' : 'txn-producer'),
    'enable.idempotence': true,
    // Traces repeat themselves (loops): zstd shrinks them several times over.
    'compression.type': 'zstd',
    acks: 'all',
    'linger.ms': config.lingerMs,
    'delivery.timeout.ms': config.deliveryTimeoutMs,
    'queue.buffering.max.messages': config.maxQueuedRecords,
    dr_cb: true,
    ...(config.transactionalId === undefined ? {} : { 'transactional.id': config.transactionalId }),
  } as ProducerGlobalConfig);
  const tracker = new DeliveryTracker();
  native.on('delivery-report', (err, report) => tracker.report(err, report));
  await callbackToPromise(
    (done) => native.connect({ timeout: config.connectTimeoutMs }, (err) => done(err)),
    (err) => kafkaError('KAFKA_CONNECT_FAILED', `producer could not connect to ${config.client.bootstrapServers}`, err),
  );
  // Delivery reports are served by a librdkafka background thread, not a JS poll timer, so their
  // latency does not depend on a poll interval.
  native.setPollInBackground(true);

  const state: ProducerState = { native, tracker, partitions: new PartitionCounts(native, config.deliveryTimeoutMs) };
  const refresh = setInterval(() => state.partitions.refresh(), config.metadataMaxAgeMs);
  refresh.unref();
  let closing: Promise<void> | undefined;
  return {
    native,
    send(records) {
      if (closing !== undefined) return Promise.reject(sendAfterClose());
      return new Promise((resolve, reject) => produceRecords(state, records, (failure) => (failure === undefined ? resolve() : reject(failure))));
    },
    deliver(records, done) {
      if (closing !== undefined) done(sendAfterClose());
      else produceRecords(state, records, done);
    },
    close() {
      clearInterval(refresh);
      closing ??= (async () => {
        await callbackToPromise(
          (done) => native.flush(config.closeTimeoutMs, done),
          (err) => kafkaError('KAFKA_DELIVERY_FAILED', 'records still queued when the producer closed', err),
        ).finally(() => callbackToPromise(
          (done) => native.disconnect((err: LibrdKafkaError | null) => done(err)),
          (err) => kafkaError('KAFKA_DISCONNECTED', 'producer did not disconnect cleanly', err),
        ));
      })();
      return closing;
    },
  };
}

interface ProducerState {
  readonly native: NativeProducer;
  readonly tracker: DeliveryTracker;
  readonly partitions: PartitionCounts;
}

const QUEUE_FULL_RETRY_MS = 5;

function sendAfterClose(): TracestreamError {
  return new TracestreamError('KAFKA_DELIVERY_FAILED', 'send after close: the producer is closed');
}

/**
 * Produces every record; `done` once all delivery reports are in, with the first failure (its
 * details count the failed records). librdkafka's queue is the bound: a full queue is retried.
 */
function produceRecords(state: ProducerState, records: readonly OutgoingRecord[], done: (failure: TracestreamError | undefined) => void): void {
  if (records.length === 0) {
    done(undefined);
    return;
  }
  const batch = newBatch(records.length, done);
  if (state.partitions.knowsAll(records)) {
    enqueueFrom(state, records, 0, batch);
    return;
  }
  state.partitions.load(records).then(
    () => enqueueFrom(state, records, 0, batch),
    (error: unknown) => {
      const failure = error instanceof TracestreamError ? error : kafkaError('KAFKA_DELIVERY_FAILED', 'could not read topic metadata', error);
      while (!batch.settled) recordFailed(batch, failure);
    },
  );
}

function enqueueFrom(state: ProducerState, records: readonly OutgoingRecord[], first: number, batch: DeliveryBatch): void {
  const { native, tracker, partitions } = state;
  for (let next = first; next < records.length; next++) {
    // Failed with the records in flight: the rest of the batch is not produced.
    if (batch.settled) return;
    if (!tracker.accepting) {
      tracker.whenAccepting(() => enqueueFrom(state, records, next, batch));
      return;
    }
    const record = records[next]!;
    const partition = record.partition ?? partitions.choose(record);
    try {
      native.produce(record.topic, partition, record.value, record.key, null, undefined, toHeaders(record.headers));
      tracker.produced(record.topic, partition, batch);
    } catch (error) {
      if ((error as LibrdKafkaError).code === CODES.ERRORS.ERR__QUEUE_FULL) {
        // Deliveries make room; this record is tried again then.
        setTimeout(() => enqueueFrom(state, records, next, batch), QUEUE_FULL_RETRY_MS);
        return;
      }
      recordFailed(batch, kafkaError('KAFKA_DELIVERY_FAILED', `could not enqueue a record for ${record.topic}`, error, {
        topic: record.topic, partition: record.partition,
      }));
    }
  }
}

function toHeaders(headers: OutgoingRecord['headers']): MessageHeader[] | undefined {
  if (headers === undefined) return undefined;
  return Object.entries(headers).map(([name, value]) => ({ [name]: value }));
}

const produceToSchema = z.object({
  /** Items whose records are being delivered at once. */
  maxInFlight: z.number().int().positive().default(64),
  /** Items waiting for a free slot; past it the stream fails instead of buffering without bound. */
  maxQueued: z.number().int().nonnegative().default(100_000),
});

export type ProduceToOptions = z.input<typeof produceToSchema>;

/**
 * Produces the records of each item and emits the item once all of them were delivered, so the
 * caller acks the source record afterwards. Items are emitted in delivery order. At most
 * `maxInFlight` items await delivery; more wait in a queue of at most `maxQueued` (keep the
 * source's own bound, e.g. kafkaSource's maxInFlightPerPartition x partitions, below it).
 *
 * @example
 * source.records.pipe(
 *   produceTo(producer, (r) => [{ topic: 'out', key: r.key, value: transform(r.value) }]),
 * ).subscribe((r) => r.ack())
 */
export function produceTo<T>(
  producer: KafkaProducer,
  toRecords: (item: T) => readonly OutgoingRecord[] | Promise<readonly OutgoingRecord[]>,
  options: ProduceToOptions = {},
): OperatorFunction<T, T> {
  const { maxInFlight, maxQueued } = parseOptions(produceToSchema, options, 'produceTo');
  return (source) => new Observable<T>((subscriber) => {
    let active = 0;
    let sourceDone = false;
    const waiting: T[] = [];
    let waitingHead = 0;
    const fail = (error: unknown): void => subscriber.error(error);
    const deliver = (item: T, records: readonly OutgoingRecord[]): void => producer.deliver(records, (failure) => {
      if (failure !== undefined) {
        fail(failure);
        return;
      }
      active--;
      subscriber.next(item);
      startWaiting();
    });
    const start = (item: T): void => {
      active++;
      let records: readonly OutgoingRecord[] | Promise<readonly OutgoingRecord[]>;
      try {
        records = toRecords(item);
      } catch (error) {
        fail(error);
        return;
      }
      if (records instanceof Promise) records.then((resolved) => deliver(item, resolved), fail);
      else deliver(item, records);
    };
    const startWaiting = (): void => {
      while (active < maxInFlight && waitingHead < waiting.length && !subscriber.closed) {
        const item = waiting[waitingHead]!;
        waiting[waitingHead++] = undefined as T;
        start(item);
      }
      if (waitingHead === waiting.length) {
        waiting.length = 0;
        waitingHead = 0;
      }
      if (sourceDone && active === 0 && waiting.length === 0) subscriber.complete();
    };
    const subscription = source.subscribe({
      next(item) {
        if (active < maxInFlight) start(item);
        else if (waiting.length - waitingHead < maxQueued) waiting.push(item);
        else {
          subscriber.error(new TracestreamError('BUFFER_OVERFLOW', `produceTo: more than maxQueued=${maxQueued} items wait for a delivery slot; bound the source below it or raise maxQueued`));
        }
      },
      error: (error: unknown) => subscriber.error(error),
      complete() {
        sourceDone = true;
        startWaiting();
      },
    });
    return () => subscription.unsubscribe();
  });
}
