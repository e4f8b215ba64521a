/**
 * bench:live — what a person watching `tracestream serve` gets, on the embedded broker:
 *  1. latency from producing a solution to its trace event at an SSE client (p50, p99), through
 *     the real trace topology (sandboxed executor), one solution at a time;
 *  2. events/s delivered to 1, 10 and 100 SSE clients of /streams/traces, from traces written
 *     straight to the topic (the topology is not in this figure).
 *
 *   npm run bench:live -- [--solutions 40] [--events 2000] [--clients 1,10,100] [--event-bytes 2048]
 */
import { availableParallelism } from 'node:os';
import { startTraceTopology } from '../topologies/trace.js';
import { createAvroCodec, openSchemaRegistry, type SolutionSubmitted } from '../src/avro/index.js';
import { parseArgs } from 'node:util';
import { readSettings } from '../src/config/settings.js';
import { TRACESTREAM_CLIENT_PROPERTIES, createProducer, startEmbeddedBroker, type KafkaClientConfig } from '../src/kafka/index.js';
import { startLiveServer } from '../src/live/index.js';
import { DEFAULT_TRACE_TOPICS } from '../src/pipeline/index.js';
import { openSse, runIdsOf, traceEvent, type SseClient } from '../test/live/support.js';

const { values: flags } = parseArgs({
  options: {
    solutions: { type: 'string', default: '40' },
    events: { type: 'string', default: '2000' },
    'event-bytes': { type: 'string', default: '2048' },
    clients: { type: 'string', default: '1,10,100' },
  },
});
const solutionCount = Number(flags.solutions);
const eventCount = Number(flags.events);
const eventBytes = Number(flags['event-bytes']);
const clientCounts = flags.clients.split(',').map(Number);

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const broker = await startEmbeddedBroker();
const client: KafkaClientConfig = { bootstrapServers: broker.bootstrapServers, clientId: 'bench-live', librdkafka: TRACESTREAM_CLIENT_PROPERTIES };
const registry = await openSchemaRegistry({ brokers: broker.bootstrapServers });
const codec = createAvroCodec(registry);
const producer = await createProducer({ client });
const settings = readSettings();
const topology = await startTraceTopology({
  client, registry, embedded: true, groupProtocol: 'consumer',
  pool: { concurrency: Math.min(2, availableParallelism()), sandboxUidBase: settings.sandboxUidBase },
});
const server = await startLiveServer({ client, codec, port: 0 });

try {
  // Topics exist once the topology has run one program; the server's consumers start after that.
  const warmUp = openSse(`${server.url}/streams/traces`);
  await producer.send([{ topic: DEFAULT_TRACE_TOPICS.solutions, key: 'warm-up', value: await codec.encode('SolutionSubmitted', program('warm-up', 1)) }]);
  await server.ready;
  await warmUp.until((events) => runIdsOf(events).includes('warm-up#0'), 300_000).catch(() => undefined);
  warmUp.close();

  // 1. Latency, one solution in flight at a time (the figure a person watching sees, not a queue's).
  const watcher = openSse(`${server.url}/streams/traces`);
  await watcher.status;
  const latencies: number[] = [];
  for (let i = 0; i < solutionCount; i++) {
    const solutionId = `latency-${i}`;
    const value = await codec.encode('SolutionSubmitted', program(solutionId, 1 + (i % 20)));
    const started = performance.now();
    await producer.send([{ topic: DEFAULT_TRACE_TOPICS.solutions, key: solutionId, value }]);
    await watcher.until((events) => runIdsOf(events).includes(`${solutionId}#0`), 60_000);
    latencies.push(performance.now() - started);
  }
  watcher.close();
  console.log(`latency produce solution -> trace event at an SSE client (${solutionCount} solutions, one at a time, executor included):`);
  console.log(`  p50 ${percentile(latencies, 50).toFixed(1)} ms  p99 ${percentile(latencies, 99).toFixed(1)} ms  max ${Math.max(...latencies).toFixed(1)} ms`);

  // 2. Fan-out throughput: traces written straight to the topic, read by N clients.
  console.log(`fan-out: ${eventCount} traces of ~${eventBytes} bytes written to ${DEFAULT_TRACE_TOPICS.traces}, every client reads all:`);
  for (const clients of clientCounts) {
    const readers: SseClient[] = Array.from({ length: clients }, () => openSse(`${server.url}/streams/traces?problem=fan-out-${clients}`));
    await Promise.all(readers.map((reader) => reader.status));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const traces = Array.from({ length: eventCount }, (_, i) => traceEvent({ runId: `fan-${clients}-${i}#0`, problemId: `fan-out-${clients}`, stdoutBytes: eventBytes }));
    const records = await Promise.all(traces.map(async (trace) => ({ topic: DEFAULT_TRACE_TOPICS.traces, key: trace.runId, value: await codec.encode('ExecutionTrace', trace) })));
    const started = performance.now();
    await producer.send(records);
    await Promise.all(readers.map((reader) => reader.until((events) => events.length >= eventCount, 600_000)));
    const seconds = (performance.now() - started) / 1000;
    for (const reader of readers) reader.close();
    console.log(`  ${String(clients).padStart(3)} clients: ${(eventCount / seconds).toFixed(0)} events/s per client, ${(eventCount * clients / seconds).toFixed(0)} deliveries/s in all (${seconds.toFixed(2)} s, produce included)`);
  }
} finally {
  await server.close();
  await topology.close();
  await producer.close();
  await registry.close();
  await broker.close();
}

function program(solutionId: string, loops: number): SolutionSubmitted {
  const source = `total = 0\nfor i in range(${loops}):\n    total += i * i\nprint(total)\n`;
  return { schemaVersion: 1, solutionId, problemId: 'bench-live', language: 'python3', source, inputs: [{ stdin: '', expectedStdout: null }], origin: {}, submittedAtMs: Date.now() };
}
