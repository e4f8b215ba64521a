import { randomUUID } from 'node:crypto';
import kafka from '@confluentinc/kafka-javascript';
import type { LibrdKafkaError } from '@confluentinc/kafka-javascript';
import { AggregateTracestreamError, TracestreamError } from '../errors/index.js';
import { kafkaError, waitOnlyForFirstMessage } from '../kafka/index.js';

/**
 * The few Kafka operations the built-in schema registry needs, on one partition of one topic:
 * append a record and wait until it is stored, and read what was appended since the last read.
 * Deliberately minimal and private to src/avro: one partition, assigned by hand, no group and no
 * acks, which the Kafka layer's source and producer would bring. It shares that layer's native
 * client helpers and its error wrapping (`kafkaError`), so its errors carry the same flags.
 *
 * Everything goes to partition 0, so the log is a single total order that every process reads
 * the same way, whatever partition count the topic was created (or auto-created) with.
 */
export interface SchemaLog {
  append(key: string, value: Buffer): Promise<void>;
  /** The records appended since the previous call (all of them on the first call), up to the end of the log as it is now. */
  readNew(): Promise<LogRecord[]>;
  /** Disconnects; idempotent. */
  close(): Promise<void>;
}

export interface LogRecord {
  offset: number;
  key: string | null;
  /** null for a tombstone. */
  value: Buffer | null;
}

export interface SchemaLogOptions {
  /** bootstrap.servers */
  brokers: string;
  topic: string;
  /** Limit of connecting, of one append and of one read to the end of the log, in milliseconds. */
  timeoutMs: number;
  /** Extra librdkafka properties for both clients (security settings, ...). */
  kafkaConfig?: Record<string, string | number | boolean>;
}

const PARTITION = 0;
const CONSUME_BATCH = 500;
const CONSUME_WAIT_MS = 100;
const { CODES } = kafka;
const ABSENT_PARTITION = new Set([
  CODES.ERRORS.ERR__UNKNOWN_PARTITION, CODES.ERRORS.ERR__UNKNOWN_TOPIC, CODES.ERRORS.ERR_UNKNOWN_TOPIC_OR_PART,
]);

/**
 * Connects a producer and a consumer to the cluster; `close` disconnects both.
 *
 * @example
 * const log = await openSchemaLog({ brokers, topic: '_tracestream_schemas', timeoutMs: 10_000 })
 * try { await log.append('k', Buffer.from('v')); console.log(await log.readNew()) } finally { await log.close() }
 */
export async function openSchemaLog(options: SchemaLogOptions): Promise<SchemaLog> {
  const { brokers, topic, timeoutMs } = options;
  const common = { ...options.kafkaConfig, 'bootstrap.servers': brokers };
  const producer = new kafka.Producer({
    ...common,
    dr_cb: true,
    'linger.ms': 0,
    'message.timeout.ms': timeoutMs,
  });
  // Manual assignment, no subscribe: the group id is never joined nor committed to, librdkafka only requires one.
  const consumer = new kafka.KafkaConsumer({
    ...common,
    'group.id': `tracestream-schema-reader-${randomUUID()}`,
    'enable.auto.commit': false,
    // A registration waits for its own record to be read back; the mock cluster holds each empty
    // fetch for the full wait (500 ms by default), which made registrations take about a second.
    'fetch.wait.max.ms': 50,
  }, {});

  await connect(producer, timeoutMs, brokers);
  try {
    await connect(consumer, timeoutMs, brokers);
  } catch (error) {
    await disconnect(producer).catch(() => undefined); // the connect error is the one to report
    throw error;
  }
  producer.setPollInBackground(true);
  consumer.setDefaultConsumeTimeout(CONSUME_WAIT_MS);
  waitOnlyForFirstMessage(consumer);

  const pending = new Map<string, { resolve: () => void; reject: (e: unknown) => void }>();
  producer.on('delivery-report', (error, report) => {
    const waiter = pending.get(report.opaque as string);
    if (!waiter) return;
    pending.delete(report.opaque as string);
    if (error) waiter.reject(unavailable(`could not append to ${topic}`, error));
    else waiter.resolve();
  });

  let next = 0;
  let assigned = false;
  let closed: Promise<void> | undefined;

  const queryHighWatermark = () =>
    new Promise<number | 'absent'>((resolve, reject) => {
      consumer.queryWatermarkOffsets(topic, PARTITION, timeoutMs, (error, offsets) => {
        if (error && ABSENT_PARTITION.has(error.code)) resolve('absent');
        else if (error) reject(unavailable(`could not read the end of ${topic}`, error));
        else resolve(offsets.highOffset);
      });
    });

  const refreshMetadata = () =>
    new Promise<void>((resolve, reject) => {
      consumer.getMetadata({ topic, timeout: timeoutMs }, (error) => (error ? reject(unavailable(`could not read metadata of ${topic}`, error)) : resolve()));
    });

  // The consumer's metadata cache does not learn of a topic another client created: when the
  // partition is unknown, refresh it once. Still unknown: nobody wrote to the topic yet, an empty log.
  const highWatermark = async () => {
    const first = await queryHighWatermark();
    if (first !== 'absent') return first;
    await refreshMetadata();
    const second = await queryHighWatermark();
    return second === 'absent' ? 0 : second;
  };

  const consume = () =>
    new Promise<kafka.Message[]>((resolve, reject) => {
      consumer.consume(CONSUME_BATCH, (error, messages) => {
        if (error) reject(unavailable(`could not read ${topic}`, error));
        else resolve(messages);
      });
    });

  return {
    append(key, value) {
      if (closed) return Promise.reject(new TracestreamError('SCHEMA_REGISTRY_UNAVAILABLE', `${topic}: the schema log is closed`));
      const opaque = randomUUID();
      return new Promise<void>((resolve, reject) => {
        pending.set(opaque, { resolve, reject });
        try {
          producer.produce(topic, PARTITION, value, key, null, opaque);
        } catch (error) {
          pending.delete(opaque);
          reject(unavailable(`could not append to ${topic}`, error));
        }
      });
    },

    async readNew() {
      if (closed) throw new TracestreamError('SCHEMA_REGISTRY_UNAVAILABLE', `${topic}: the schema log is closed`);
      const end = await highWatermark();
      const records: LogRecord[] = [];
      if (end <= next) return records;
      if (!assigned) {
        consumer.assign([{ topic, partition: PARTITION, offset: next }]);
        assigned = true;
      }
      const deadline = Date.now() + timeoutMs;
      while (next < end) {
        if (Date.now() > deadline) {
          throw new TracestreamError('SCHEMA_REGISTRY_UNAVAILABLE', `${topic}: read ${records.length} records but not up to offset ${end} within ${timeoutMs} ms`, {
            retriable: true, details: { topic, offset: next },
          });
        }
        const messages = await consume();
        for (const m of messages) {
          if (m.partition !== PARTITION || m.offset < next) continue;
          records.push({ offset: m.offset, key: m.key == null ? null : m.key.toString(), value: m.value ?? null });
          next = m.offset + 1;
        }
        if (messages.length === 0) {
          // Compaction leaves gaps in offsets: trust the consumer's position past them.
          const position = consumer.position([{ topic, partition: PARTITION }])[0]?.offset ?? -1;
          if (position > next) next = position;
        }
      }
      return records;
    },

    close() {
      closed ??= (async () => {
        for (const waiter of pending.values()) waiter.reject(new TracestreamError('SCHEMA_REGISTRY_UNAVAILABLE', `${topic}: closed before delivery`));
        pending.clear();
        const results = await Promise.allSettled([disconnect(producer), disconnect(consumer)]);
        const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
        if (errors.length > 0) throw new AggregateTracestreamError('SHUTDOWN_FAILED', `${topic}: could not disconnect the schema log`, errors);
      })();
      return closed;
    },
  };
}

function connect(client: kafka.Producer | kafka.KafkaConsumer, timeoutMs: number, brokers: string): Promise<void> {
  return new Promise((resolve, reject) => {
    client.connect({ timeout: timeoutMs }, (error) => {
      if (error) reject(unavailable(`could not connect to ${brokers}`, error));
      else resolve();
    });
  });
}

function disconnect(client: kafka.Producer | kafka.KafkaConsumer): Promise<void> {
  return new Promise((resolve, reject) => {
    client.disconnect((error: unknown) => (error ? reject(kafkaError('KAFKA_DISCONNECTED', 'the built-in schema registry did not disconnect cleanly', error)) : resolve()));
  });
}

/** Anything short of a fatal client error may pass: the registry is worth asking again. */
function unavailable(what: string, error: unknown): TracestreamError {
  const retriable = (error as Partial<LibrdKafkaError>).isFatal !== true;
  return kafkaError('SCHEMA_REGISTRY_UNAVAILABLE', `built-in schema registry ${what}`, error, {}, { retriable });
}
