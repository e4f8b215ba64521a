/**
 * Pipeline benchmark, in one run on an embedded (in-process) mock cluster:
 * (a) Kafka produce + consume throughput with the native client alone vs through our RxJS sink
 *     and source (`measureKafkaThroughput`) — target: RxJS ≥ 80% of raw;
 * (b) programs/s of the trace topology end to end (solutions produced first, timed from topology
 *     start until every trace was read back) vs the executor pool alone on the same programs (timed
 *     from pool start until every run returned) —
 *     target: topology ≥ 90% of the pool.
 *
 *   npm run bench:pipeline -- [PATH.jsonl] [--limit N] [--messages N] [--concurrency N] [--max-diffs-per-run N]
 *
 * PATH.jsonl defaults to ../shared/corpus/hackerrank-dev.jsonl (from the working directory).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { startTraceTopology } from '../topologies/trace.js';
import { eachBounded } from './each-bounded.js';
import { measureKafkaThroughput } from './kafka-throughput.js';
import { createAvroCodec, openSchemaRegistry, type SolutionSubmitted } from '../src/avro/index.js';
import { parseArgs } from '../src/cli/args.js';
import { produceSolutions } from '../src/cli/commands/produce.js';
import { TRACESTREAM_CLIENT_PROPERTIES } from '../src/cli/connect.js';
import { createExecutorPool } from '../src/executor/index.js';
import { createProducer, ensureTopics, kafkaSource, startEmbeddedBroker, type KafkaClientConfig } from '../src/kafka/index.js';
import { DEFAULT_TRACE_TOPICS, readSolutions, runIdOf, traceTopicSpecs } from '../src/topology/index.js';

const MESSAGE_BYTES = 256;
/** Key of the record that proves the trace reader is attached (its run id matches no run). */
const READER_WARM_UP_KEY = 'bench-reader-warm-up';

async function main(argv: readonly string[]): Promise<void> {
  const { positionals, flags } = parseArgs(argv);
  const path = positionals[0] ?? resolve(process.cwd(), '../shared/corpus/hackerrank-dev.jsonl');
  const limit = positiveFlag(flags['limit'], 'limit', 300);
  // 100k: at 50k each round lasts half a second and start-up noise moves the ratio by 0.1.
  const messages = positiveFlag(flags['messages'], 'messages', 100_000);
  const concurrency = positiveFlag(flags['concurrency'], 'concurrency', availableParallelism());
  const maxDiffsPerRun = flags['max-diffs-per-run'] === undefined ? undefined : Number(flags['max-diffs-per-run']);

  const broker = await startEmbeddedBroker();
  try {
    console.log(`(a) Kafka produce+consume, ${messages} records of ${MESSAGE_BYTES} B, embedded mock cluster`);
    const kafka = await measureKafkaThroughput({ bootstrapServers: broker.bootstrapServers, messages, valueBytes: MESSAGE_BYTES });
    console.log(`  raw client:       ${kafka.rawMsgsPerSec} msgs/s (median of ${kafka.rounds.map((r) => r.raw).join(', ')})`);
    console.log(`  rxjs sink+source: ${kafka.rxMsgsPerSec} msgs/s (median of ${kafka.rounds.map((r) => r.rx).join(', ')})`);
    console.log(`  ratio rxjs/raw: ${(kafka.rxMsgsPerSec / kafka.rawMsgsPerSec).toFixed(2)} (target >= 0.80)`);

    const client: KafkaClientConfig = { bootstrapServers: broker.bootstrapServers, clientId: 'tracestream-bench', librdkafka: TRACESTREAM_CLIENT_PROPERTIES };
    await pipelineThroughput(client, path, limit, concurrency, maxDiffsPerRun);
  } finally {
    await broker.close();
  }
}

function positiveFlag(value: string | boolean | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive integer, got ${String(value)}`);
  return n;
}

async function pipelineThroughput(client: KafkaClientConfig, path: string, limit: number, concurrency: number, maxDiffsPerRun: number | undefined): Promise<void> {
  const solutions: SolutionSubmitted[] = [];
  for await (const solution of readSolutions(path)) {
    solutions.push(solution);
    if (solutions.length === limit) break;
  }
  const runs = solutions.flatMap((s) => s.inputs.map((input, i) => ({ runId: runIdOf(s.solutionId, i), source: s.source, stdin: input.stdin })));
  console.log(`(b) trace topology vs executor pool: ${solutions.length} programs (${runs.length} runs) from ${path}, concurrency ${concurrency}, max diffs per run ${maxDiffsPerRun ?? 'default'}`);

  const registry = await openSchemaRegistry({ brokers: client.bootstrapServers });
  try {
    const codec = createAvroCodec(registry);
    const topics = DEFAULT_TRACE_TOPICS;
    await produceSolutions(client, codec, topics.solutions, solutions);

    // As on a deployed cluster, the topics exist before the topology starts; the reader of `traces`
    // is attached and fetching before the clock starts, so the clock measures the topology alone.
    await ensureTopics({ client, topics: traceTopicSpecs(topics), embedded: true, log: { warn: () => undefined } });
    let readerAttached!: () => void;
    const attached = new Promise<void>((resolve) => { readerAttached = resolve; });
    const reader = awaitTraceRecords(client, topics.traces, new Set(runs.map((r) => r.runId)), {
      onFirst: () => { firstTraceAt ||= performance.now(); },
      onWarmUp: () => readerAttached(),
    });
    reader.catch(() => undefined);
    const warmUp = await createProducer({ client });
    await warmUp.send([{ topic: topics.traces, key: Buffer.from(READER_WARM_UP_KEY), value: Buffer.alloc(0) }]);
    await warmUp.close();
    await Promise.race([attached, reader]);
    let started = performance.now();
    let cpuStarted = process.cpuUsage();
    let machineStarted = machineCpu();
    let firstTraceAt = 0;
    let topologyRunMs = 0;
    let collectedAt = 0;
    let poolRunMs = 0;
    const topology = await startTraceTopology({
      client, registry, embedded: true, topics, groupId: 'bench-trace', pool: { concurrency },
      ...(maxDiffsPerRun === undefined ? {} : { maxDiffsPerRun }),
    });
    let traceRecords: Map<string, Buffer>;
    let topologyCpu: NodeJS.CpuUsage;
    let topologyMachine: string;
    try {
      traceRecords = await reader;
      collectedAt = performance.now();
      topologyCpu = process.cpuUsage(cpuStarted);
      topologyMachine = machineBusy(machineStarted);
    } finally {
      await topology.close();
    }
    // Decoded after the clock stopped (a dataset writer runs elsewhere): every record must be the
    // trace of the run its key names.
    for (const [runId, value] of traceRecords) {
      const trace = await codec.decode(value, 'ExecutionTrace');
      if (trace.runId !== runId) throw new Error(`the trace keyed ${runId} is the trace of ${trace.runId}`);
      topologyRunMs += trace.wallTimeMs;
    }
    const topologySeconds = (collectedAt - started) / 1000;
    const firstTraceSeconds = (firstTraceAt - started) / 1000;

    // Timed from before the pool starts, as the topology's time includes starting its pool.
    started = performance.now();
    cpuStarted = process.cpuUsage();
    machineStarted = machineCpu();
    const pool = await createExecutorPool({ concurrency });
    try {
      // As many runs submitted as the pool holds (running and queued), as the topology keeps it:
      // a freed slot never waits for the next submission.
      const executions = await eachBounded(runs, concurrency + pool.maxQueued, (run) => pool.run(run));
      poolRunMs = executions.reduce((sum, execution) => sum + execution.wallTimeMs, 0);
    } finally {
      await pool.close();
    }
    const poolSeconds = (performance.now() - started) / 1000;
    // Run wall time summed over runs, over slot time: below 1, slots waited for work or for the
    // runs' CPU (the topology, broker and collector share the cores).
    const poolCpu = process.cpuUsage(cpuStarted);
    const poolMachine = machineBusy(machineStarted);

    const topologyRate = solutions.length / topologySeconds;
    const poolRate = solutions.length / poolSeconds;
    console.log(`  trace topology: ${topologyRate.toFixed(1)} programs/s (${topologySeconds.toFixed(1)} s, first trace after ${firstTraceSeconds.toFixed(1)} s: group join and pool start)`);
    // The mock cluster's group join costs seconds the pool never pays: the rate after the first
    // trace shows what the topology itself costs per program.
    const steadyRate = (solutions.length - 1) / (topologySeconds - firstTraceSeconds);
    console.log(`  trace topology after its first trace: ${steadyRate.toFixed(1)} programs/s`);
    console.log(`  executor pool:  ${poolRate.toFixed(1)} programs/s (${poolSeconds.toFixed(1)} s)`);
    // Both phases share the cores with the executors: this process's CPU per program is what the
    // topology (with the in-process broker and collector) takes from the Python runs.
    const cpuMsPerProgram = (usage: NodeJS.CpuUsage): string => ((usage.user + usage.system) / 1000 / solutions.length).toFixed(2);
    console.log(`  this process's CPU per program: ${cpuMsPerProgram(topologyCpu)} ms with the topology, broker and collector; ${cpuMsPerProgram(poolCpu)} ms with the pool alone`);
    console.log(`  machine CPU busy: ${topologyMachine} with the topology, ${poolMachine} with the pool alone`);
    const busy = (runMs: number, seconds: number): string => (runMs / 1000 / (concurrency * seconds)).toFixed(2);
    console.log(`  executor slots busy: ${busy(topologyRunMs, topologySeconds)} of the time with the topology, ${busy(poolRunMs, poolSeconds)} with the pool alone; summed run time ${(topologyRunMs / 1000).toFixed(1)} s vs ${(poolRunMs / 1000).toFixed(1)} s`);
    console.log(`  ratio topology/pool: ${(topologyRate / poolRate).toFixed(2)} end to end, ${(steadyRate / poolRate).toFixed(2)} after the first trace (target >= 0.90)`);
  } finally {
    await registry.close();
  }
}

/**
 * Reads `topic` (every partition, no group) until a record keyed by each run id arrived; the
 * first value per run. The measuring instrument of (b), so it only looks at keys while timed.
 */
async function awaitTraceRecords(
  client: KafkaClientConfig, topic: string, runIds: ReadonlySet<string>, on: { onFirst: () => void; onWarmUp: () => void },
): Promise<Map<string, Buffer>> {
  const values = new Map<string, Buffer>();
  // Short fetch waits: the mock holds an empty fetch for all of it, which would delay the clock's stop.
  const source = kafkaSource({ client, groupId: `bench-read-${Date.now()}`, topics: [topic], assignAllPartitions: true, fetchWaitMaxMs: 10 });
  try {
    await new Promise<void>((resolve, reject) => {
      const subscription = source.records.subscribe({
        next(record) {
          record.ack();
          const runId = record.key?.toString();
          if (runId === READER_WARM_UP_KEY) on.onWarmUp();
          if (runId === undefined || record.value === null || !runIds.has(runId) || values.has(runId)) return;
          if (values.size === 0) on.onFirst();
          values.set(runId, record.value);
          if (values.size === runIds.size) {
            subscription.unsubscribe();
            resolve();
          }
        },
        error: reject,
        complete: () => reject(new Error(`${topic} ended with ${values.size} of ${runIds.size} traces`)),
      });
    });
  } finally {
    await source.close();
  }
  return values;
}

/** Busy and total jiffies of all CPUs (Linux /proc/stat); null where there is none. */
function machineCpu(): { busy: number; total: number } | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3]! + fields[4]!;
    const total = fields.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

function machineBusy(since: { busy: number; total: number } | null): string {
  const now = machineCpu();
  if (since === null || now === null || now.total === since.total) return 'unknown';
  return `${((100 * (now.busy - since.busy)) / (now.total - since.total)).toFixed(0)}%`;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
