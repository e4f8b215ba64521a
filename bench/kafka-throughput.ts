import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { lastValueFrom, from } from 'rxjs';
import Kafka from '@confluentinc/kafka-javascript';
import { median } from './median.js';
import { createProducer, kafkaSource, produceTo, waitOnlyForFirstMessage, type KafkaClientConfig } from '../src/kafka/index.js';

export interface KafkaThroughput {
  /** Produce (delivery reported) and consume, messages per second with the plain native client (median of the rounds). */
  rawMsgsPerSec: number;
  /** The same through createProducer/produceTo and kafkaSource, with acks and commits (median). */
  rxMsgsPerSec: number;
  /** Every round's figure, in the order run (raw and rx alternate). */
  rounds: { raw: number; rx: number }[];
}

/**
 * What both rounds ask of the broker, so the ratio measures our layer and not a configuration:
 * the settings createProducer and kafkaSource use (idempotent zstd batches, short fetch waits).
 */
const SHARED_PRODUCER_PROPERTIES = { 'enable.idempotence': true, 'compression.type': 'zstd', acks: 'all', 'linger.ms': 5 } as const;
const SHARED_CONSUMER_PROPERTIES = { 'fetch.wait.max.ms': 100, 'isolation.level': 'read_committed' } as const;

const run = Date.now().toString(36);

/**
 * Each round's producer first sends one record and waits for its delivery: the topic exists, the
 * idempotent producer has its id (which took up to 0.5 s on the mock, inside the clock), and the
 * consumer's first record marks its group join, which starts the clock.
 */
const WARM_UP = Buffer.from('warm-up');

/**
 * Produces `messages` records of `valueBytes` bytes and consumes them back, with the plain native
 * client and through our producer/produceTo and kafkaSource, alternating for `rounds` rounds each
 * (a fresh topic per round); each figure is messages divided by the produce+consume wall time (the
 * group join is excluded: timing starts at the first consumed record). Medians, because one round
 * on a 2-core machine shares it with the in-process broker and whatever else runs.
 */
export async function measureKafkaThroughput(options: { bootstrapServers: string; messages: number; valueBytes: number; rounds?: number }): Promise<KafkaThroughput> {
  const { bootstrapServers, messages, valueBytes } = options;
  const client: KafkaClientConfig = { bootstrapServers, clientId: 'tracestream-bench' };
  const value = Buffer.alloc(valueBytes, 120);
  const rounds: { raw: number; rx: number }[] = [];
  for (let i = 0; i < (options.rounds ?? 3); i++) {
    const raw = await rawRound(bootstrapServers, `bench-raw-${run}-${i}`, messages, value);
    const rx = await rxRound(client, `bench-rx-${run}-${i}`, messages, value);
    rounds.push({ raw: Math.round(raw), rx: Math.round(rx) });
  }
  return { rawMsgsPerSec: Math.round(median(rounds.map((r) => r.raw))), rxMsgsPerSec: Math.round(median(rounds.map((r) => r.rx))), rounds };
}

async function rawRound(bootstrapServers: string, topic: string, count: number, value: Buffer): Promise<number> {
  const consumer = new Kafka.KafkaConsumer({ 'bootstrap.servers': bootstrapServers, 'group.id': topic, 'enable.auto.commit': true, ...SHARED_CONSUMER_PROPERTIES }, { 'auto.offset.reset': 'earliest' });
  await new Promise<void>((resolve, reject) => consumer.connect({}, (err) => (err ? reject(err) : resolve())));
  const producer = new Kafka.Producer({ 'bootstrap.servers': bootstrapServers, ...SHARED_PRODUCER_PROPERTIES, dr_cb: true, 'queue.buffering.max.messages': 1_000_000 });
  await new Promise<void>((resolve, reject) => producer.connect({}, (err) => (err ? reject(err) : resolve())));
  producer.setPollInBackground(true);
  producer.produce(topic, null, WARM_UP, null);
  await new Promise<void>((resolve, reject) => producer.flush(10_000, (err) => (err ? reject(err) : resolve())));
  consumer.subscribe([topic]);
  consumer.setDefaultConsumeTimeout(100);
  // As kafkaSource does: a batch returns what has arrived instead of waiting for 500 records.
  waitOnlyForFirstMessage(consumer);
  await new Promise<void>((resolve) => {
    const loop = (): void => consumer.consume(500, (_err, batch) => (batch !== undefined && batch.length > 0 ? resolve() : loop()));
    loop();
  });
  const started = performance.now();
  let consumed = 0;
  const done = new Promise<void>((resolve) => {
    const loop = (): void => consumer.consume(500, (_err, batch) => {
      consumed += batch?.length ?? 0;
      if (consumed >= count) resolve();
      else setImmediate(loop);
    });
    loop();
  });
  // Every delivery report counted, as a pipeline that commits only delivered work must (and as
  // produceTo does): the reports cost the client more than producing. Unlike produceTo, it never
  // asks whose report it is (no per-record opaque, which costs the client a V8 handle per record).
  let delivered = 0;
  const allDelivered = new Promise<void>((resolve) => {
    producer.on('delivery-report', () => {
      if (++delivered === count) resolve();
    });
  });
  for (let i = 0; i < count; i++) producer.produce(topic, null, value, `k${i}`);
  await Promise.all([done, allDelivered]);
  const seconds = (performance.now() - started) / 1000;
  await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  return count / seconds;
}

async function rxRound(client: KafkaClientConfig, topic: string, count: number, value: Buffer): Promise<number> {
  const producer = await createProducer({ client });
  await producer.send([{ topic, key: null, value: WARM_UP }]);
  const source = kafkaSource({ client, groupId: topic, topics: [topic] });
  let startedAt = 0;
  let joined!: () => void;
  const joinedPromise = new Promise<void>((resolve) => { joined = resolve; });
  let seen = 0;
  // The first record (the warm-up record) marks the group as joined and starts the clock.
  const done = new Promise<void>((resolve, reject) => {
    source.records.subscribe({
      next(record) {
        record.ack();
        if (seen++ === 0) { startedAt = performance.now(); joined(); }
        if (seen === count + 1) resolve();
      },
      error: reject,
    });
  });
  await joinedPromise;
  await lastValueFrom(from(Array.from({ length: count }, (_, i) => i)).pipe(
    produceTo(producer, (i) => [{ topic, key: `k${i}`, value }], { maxInFlight: 8192 }),
  ));
  await done;
  const seconds = (performance.now() - startedAt) / 1000;
  await source.close();
  await producer.close();
  return count / seconds;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  const { startEmbeddedBroker } = await import('../src/kafka/index.js');
  const external = process.env['KAFKA_BROKERS'];
  const broker = external ? undefined : await startEmbeddedBroker();
  const bootstrapServers = external || broker!.bootstrapServers;
  const messages = Number(process.argv[2] ?? 100_000);
  const valueBytes = Number(process.argv[3] ?? 200);
  const result = await measureKafkaThroughput({ bootstrapServers, messages, valueBytes });
  const rounds = result.rounds.map((r) => `${r.raw}/${r.rx}`).join(', ');
  process.stdout.write(`kafka throughput, ${messages} msgs x ${valueBytes} B: raw ${result.rawMsgsPerSec} msgs/s, rx ${result.rxMsgsPerSec} msgs/s (${Math.round((100 * result.rxMsgsPerSec) / result.rawMsgsPerSec)}% of raw; rounds raw/rx: ${rounds})\n`);
  await broker?.close();
}
