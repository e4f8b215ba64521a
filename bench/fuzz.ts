/**
 * bench:fuzz — a burst of malformed records, interleaved with valid solutions, through the trace
 * topology on the embedded broker. Prints the rate of dead letters and checks that every valid
 * solution was traced, every malformed record dead-lettered (exactly once), and that the topology
 * ran throughout (it never stopped, so it never restarted).
 *
 *   npm run bench:fuzz -- [--malformed 100000] [--valid-every 1000] [--concurrency N] [--sandbox-uid-base 61000]
 */
import { availableParallelism } from 'node:os';
import { startTraceTopology } from '../topologies/trace.js';
import { createMetricsRegistry, topologyMetrics } from '../src/telemetry/index.js';
import { openWatermarks } from './watermarks.js';
import { createAvroCodec, openSchemaRegistry, type AvroCodec, type SolutionSubmitted } from '../src/avro/index.js';
import { parseArgs } from 'node:util';
import { TRACESTREAM_CLIENT_PROPERTIES, createProducer, ensureTopics, startEmbeddedBroker, type KafkaClientConfig, type OutgoingRecord } from '../src/kafka/index.js';
import { DEFAULT_TRACE_TOPICS, collectTraces, runIdOf, traceTopicSpecs, type TraceTopics } from '../src/pipeline/index.js';

async function main(argv: readonly string[]): Promise<void> {
  const { values: flags } = parseArgs({
    args: [...argv], strict: true,
    options: { malformed: { type: 'string' }, 'valid-every': { type: 'string' }, concurrency: { type: 'string' }, 'sandbox-uid-base': { type: 'string' } },
  });
  const malformed = positive(flags['malformed'], 100_000);
  const validEvery = positive(flags['valid-every'], 1_000);
  const concurrency = positive(flags['concurrency'], availableParallelism());
  const sandboxUidBase = positive(flags['sandbox-uid-base'], 61_000);
  const broker = await startEmbeddedBroker();
  try {
    const client: KafkaClientConfig = { bootstrapServers: broker.bootstrapServers, clientId: 'tracestream-bench-fuzz', librdkafka: TRACESTREAM_CLIENT_PROPERTIES };
    const registry = await openSchemaRegistry({ brokers: broker.bootstrapServers });
    try {
      await fuzz(client, createAvroCodec(registry), registry, malformed, validEvery, { concurrency, sandboxUidBase });
    } finally {
      await registry.close();
    }
  } finally {
    await broker.close();
  }
}

async function fuzz(
  client: KafkaClientConfig, codec: AvroCodec, registry: Parameters<typeof startTraceTopology>[0]['registry'],
  malformed: number, validEvery: number, pool: { concurrency: number; sandboxUidBase: number },
): Promise<void> {
  const suffix = `-fuzz-${Date.now().toString(36)}`;
  const topics: TraceTopics = {
    solutions: `${DEFAULT_TRACE_TOPICS.solutions}${suffix}`, traces: `${DEFAULT_TRACE_TOPICS.traces}${suffix}`,
    diffs: `${DEFAULT_TRACE_TOPICS.diffs}${suffix}`, deadLetters: `${DEFAULT_TRACE_TOPICS.deadLetters}${suffix}`,
  };
  await ensureTopics({ client, topics: traceTopicSpecs(topics), embedded: true, log: { warn: () => undefined } });
  const { records, validIds } = await inputs(codec, topics.solutions, malformed, validEvery);
  const producer = await createProducer({ client });
  try {
    for (let at = 0; at < records.length; at += 10_000) await producer.send(records.slice(at, at + 10_000));
  } finally {
    await producer.close();
  }
  console.log(`${malformed} malformed records and ${validIds.length} valid solutions in ${topics.solutions}`);

  const letters = await openWatermarks(client, topics.deadLetters);
  const traces = await openWatermarks(client, topics.traces);
  const started = performance.now();
  const metrics = topologyMetrics(createMetricsRegistry({ processMetrics: false }));
  const topology = await startTraceTopology({ client, registry, embedded: true, topics, groupId: `bench-fuzz${suffix}`, pool, metrics });
  let stopped: unknown;
  let closing = false;
  topology.done.then(() => { if (!closing) stopped = new Error('the topology stopped by itself'); }, (error: unknown) => { stopped = error; });
  let firstLetterAt = 0;
  // A rebalance that took partitions away restarts their work from the last commit: none may happen
  // either. Counted before the close, whose own leaving of the group revokes everything.
  let restarts = Number.NaN;
  try {
    await letters.waitFor(malformed, () => { firstLetterAt ||= performance.now(); });
    const lettersAt = performance.now();
    await traces.waitFor(validIds.length, () => undefined);
    const seconds = (lettersAt - firstLetterAt) / 1000;
    console.log(`dead letters: ${Math.round(malformed / seconds)} records/s (${malformed} in ${seconds.toFixed(2)} s from the first; ` +
      `${((lettersAt - started) / 1000).toFixed(2)} s from the topology's start, group join included)`);
    restarts = (await metrics.restarts.get()).values.reduce((sum, sample) => sum + sample.value, 0);
  } finally {
    closing = true;
    if (stopped === undefined) await topology.close();
  }
  const storedLetters = await letters.total();
  const storedTraces = await traces.total();
  await Promise.all([letters.close(), traces.close()]);
  const traced = await collectTraces({ client, codec, topic: topics.traces, runIds: new Set(validIds.map((id) => runIdOf(id, 0))) });
  const notOk = [...traced.values()].filter((trace) => trace.outcome !== 'ok');
  console.log(`valid solutions traced: ${traced.size} of ${validIds.length} (${notOk.length} not ok)`);
  console.log(`malformed records dead-lettered: ${storedLetters} of ${malformed}; traces stored: ${storedTraces}`);
  console.log(`topology stopped during the run (a restart would follow): ${stopped === undefined ? 'no' : String(stopped)}`);
  console.log(`consumer restarts (partitions revoked) before the close: ${restarts}`);
  if (restarts !== 0 || stopped !== undefined || storedLetters !== malformed || storedTraces !== validIds.length || traced.size !== validIds.length || notOk.length > 0) {
    throw new Error('bench:fuzz failed its checks (see above)');
  }
}

/** Malformed records of five kinds, in turn, with a valid solution every `validEvery`. */
async function inputs(codec: AvroCodec, topic: string, malformed: number, validEvery: number): Promise<{ records: OutgoingRecord[]; validIds: string[] }> {
  const template: SolutionSubmitted = {
    schemaVersion: 1, solutionId: '', problemId: 'fuzz', language: 'python3', source: 'print(1)\n',
    inputs: [{ stdin: '', expectedStdout: null }], origin: {}, submittedAtMs: 0,
  };
  const valid = await codec.encode('SolutionSubmitted', template);
  const noInputs = await codec.encode('SolutionSubmitted', { ...template, inputs: [] });
  const kinds: ((i: number) => Buffer | null)[] = [
    (i) => Buffer.from(`not avro ${i}`), // no magic byte
    (i) => Buffer.from([0, 0x7f, 0xff, 0xff, i & 0xff, 1, 2]), // unknown schema id
    () => valid.subarray(0, Math.floor(valid.length / 2)), // cut short
    () => null, // tombstone
    () => noInputs, // decodes, but has nothing to run
  ];
  const records: OutgoingRecord[] = [];
  const validIds: string[] = [];
  for (let i = 0; i < malformed; i++) {
    if (i % validEvery === 0) {
      const solutionId = `fuzz-valid-${validIds.length}`;
      validIds.push(solutionId);
      records.push({ topic, key: solutionId, value: await codec.encode('SolutionSubmitted', { ...template, solutionId, source: `print(${i})\n` }) });
    }
    records.push({ topic, key: null, value: kinds[i % kinds.length]!(i) });
  }
  return { records, validIds };
}

function positive(value: string | boolean | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new Error(`expected a positive integer, got ${String(value)}`);
  return number;
}

await main(process.argv.slice(2));
