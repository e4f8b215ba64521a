/**
 * Pipeline benchmark, in one run on an embedded (in-process) mock cluster:
 * (a) Kafka produce + consume throughput with the native client alone vs through our RxJS sink
 *     and source (`measureKafkaThroughput`) — target: RxJS ≥ 80% of raw;
 * (b) programs/s of the trace topology end to end (solutions produced first, timed from topology
 *     start until the brokers hold a trace of every run) vs the executor pool alone on the same programs (timed
 *     from pool start until every run returned) —
 *     target: topology ≥ 90% of the pool.
 *
 *   npm run bench:pipeline -- [PATH.jsonl] [--limit N] [--messages N] [--rounds N] [--concurrency N] [--max-diffs-per-run N]
 *
 * PATH.jsonl defaults to ../shared/corpus/hackerrank-dev.jsonl (from the working directory).
 */
import { readFileSync } from 'node:fs';
import Kafka from '@confluentinc/kafka-javascript';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { startTraceTopology } from '../topologies/trace.js';
import { eachBounded } from './each-bounded.js';
import { measureKafkaThroughput } from './kafka-throughput.js';
import { createAvroCodec, openSchemaRegistry, type AvroCodec, type SchemaRegistry, type SolutionSubmitted } from '../src/avro/index.js';
import { parseArgs } from 'node:util';
import { createExecutorPool } from '../src/executor/index.js';
import { ensureTopics, kafkaSource, startEmbeddedBroker, TRACESTREAM_CLIENT_PROPERTIES, type KafkaClientConfig } from '../src/kafka/index.js';
import { DEFAULT_TRACE_TOPICS, produceSolutions, readSolutions, runIdOf, traceTopicSpecs, type TraceTopics } from '../src/pipeline/index.js';

const MESSAGE_BYTES = 256;

async function main(argv: readonly string[]): Promise<void> {
  const { positionals, values: flags } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      limit: { type: 'string' }, messages: { type: 'string' }, rounds: { type: 'string' },
      concurrency: { type: 'string' }, 'max-diffs-per-run': { type: 'string' },
    },
  });
  const path = positionals[0] ?? resolve(process.cwd(), '../shared/corpus/hackerrank-dev.jsonl');
  const limit = positiveFlag(flags['limit'], 'limit', 300);
  // 100k: at 50k each round lasts half a second and start-up noise moves the ratio by 0.1.
  const messages = positiveFlag(flags['messages'], 'messages', 100_000);
  const concurrency = positiveFlag(flags['concurrency'], 'concurrency', availableParallelism());
  const maxDiffsPerRun = flags['max-diffs-per-run'] === undefined ? undefined : Number(flags['max-diffs-per-run']);
  const rounds = positiveFlag(flags['rounds'], 'rounds', 4);

  const broker = await startEmbeddedBroker();
  try {
    console.log(`(a) Kafka produce+consume, ${messages} records of ${MESSAGE_BYTES} B, embedded mock cluster`);
    const kafka = await measureKafkaThroughput({ bootstrapServers: broker.bootstrapServers, messages, valueBytes: MESSAGE_BYTES, rounds });
    console.log(`  raw client:       ${kafka.rawMsgsPerSec} msgs/s (median of ${kafka.rounds.map((r) => r.raw).join(', ')})`);
    console.log(`  rxjs sink+source: ${kafka.rxMsgsPerSec} msgs/s (median of ${kafka.rounds.map((r) => r.rx).join(', ')})`);
    console.log(`  ratio rxjs/raw: ${(kafka.rxMsgsPerSec / kafka.rawMsgsPerSec).toFixed(2)} (target >= 0.80)`);

    const client: KafkaClientConfig = { bootstrapServers: broker.bootstrapServers, clientId: 'tracestream-bench', librdkafka: TRACESTREAM_CLIENT_PROPERTIES };
    await pipelineThroughput(client, path, limit, concurrency, maxDiffsPerRun, rounds);
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

interface RunRequest { runId: string; source: string; stdin: string }

/** What one timed phase (the topology or the pool alone) measured. */
interface PhaseFigures {
  seconds: number;
  programsPerSec: number;
  /** This process's CPU (user + system) per program, ms: what it takes from the Python runs. */
  cpuMsPerProgram: number;
  machineBusy: string;
  /** Run wall time summed over runs, over slot time: below 1, slots waited for work or for CPU. */
  slotsBusy: number;
  summedRunSeconds: number;
}

interface TopologyFigures extends PhaseFigures {
  firstTraceSeconds: number;
  /** Programs/s after the first trace, without the group join. */
  steadyProgramsPerSec: number;
}

interface PipelineContext {
  client: KafkaClientConfig;
  codec: AvroCodec;
  registry: SchemaRegistry;
  solutions: readonly SolutionSubmitted[];
  runs: readonly RunRequest[];
  concurrency: number;
  maxDiffsPerRun: number | undefined;
}

/**
 * (b) in `rounds` rounds; each round times the topology and the pool alone on the same programs,
 * alternating which goes first, and the ratio is that of the total times over all rounds. This
 * machine's speed drifts by up to 10% over minutes (the pool alone made 53 to 59 programs/s in one
 * hour), so one round's ratio moves by ±0.05; with alternating order over an even number of rounds
 * a steady drift counts against both sides alike.
 */
async function pipelineThroughput(client: KafkaClientConfig, path: string, limit: number, concurrency: number, maxDiffsPerRun: number | undefined, rounds: number): Promise<void> {
  const solutions: SolutionSubmitted[] = [];
  for await (const solution of readSolutions(path)) {
    solutions.push(solution);
    if (solutions.length === limit) break;
  }
  const runs = solutions.flatMap((s) => s.inputs.map((input, i) => ({ runId: runIdOf(s.solutionId, i), source: s.source, stdin: input.stdin })));
  console.log(`(b) trace topology vs executor pool: ${solutions.length} programs (${runs.length} runs) from ${path}, concurrency ${concurrency}, max diffs per run ${maxDiffsPerRun ?? 'default'}, ${rounds} rounds`);

  const registry = await openSchemaRegistry({ brokers: client.bootstrapServers });
  try {
    const context: PipelineContext = { client, codec: createAvroCodec(registry), registry, solutions, runs, concurrency, maxDiffsPerRun };
    const results: { topology: TopologyFigures; pool: PhaseFigures }[] = [];
    for (let round = 0; round < rounds; round++) {
      const topologyFirst = round % 2 === 0;
      let pool: PhaseFigures | undefined;
      if (!topologyFirst) pool = await timePool(context);
      const topology = await timeTopology(context, round);
      pool ??= await timePool(context);
      results.push({ topology, pool });
      printRound(round, topologyFirst, topology, pool, concurrency);
    }
    const ratios = results.map((r) => r.topology.programsPerSec / r.pool.programsPerSec);
    const total = (seconds: (r: (typeof results)[number]) => number): number => results.reduce((sum, r) => sum + seconds(r), 0);
    const topologySeconds = total((r) => r.topology.seconds);
    const poolSeconds = total((r) => r.pool.seconds);
    const steadySeconds = total((r) => r.topology.seconds - r.topology.firstTraceSeconds);
    const programs = solutions.length * rounds;
    console.log(`  all rounds: trace topology ${(programs / topologySeconds).toFixed(1)} programs/s, executor pool ${(programs / poolSeconds).toFixed(1)} programs/s`);
    console.log(`  ratio topology/pool: ${(poolSeconds / topologySeconds).toFixed(2)} end to end over all rounds (rounds: ${ratios.map((v) => v.toFixed(2)).join(', ')}), ${(poolSeconds / steadySeconds).toFixed(2)} after the first traces (target >= 0.90)`);
  } finally {
    await registry.close();
  }
}

function printRound(round: number, topologyFirst: boolean, topology: TopologyFigures, pool: PhaseFigures, concurrency: number): void {
  console.log(`  round ${round + 1} (${topologyFirst ? 'topology' : 'pool'} first):`);
  console.log(`    trace topology: ${topology.programsPerSec.toFixed(1)} programs/s (${topology.seconds.toFixed(1)} s; first trace after ${topology.firstTraceSeconds.toFixed(1)} s, the group join and pool start; ${topology.steadyProgramsPerSec.toFixed(1)} programs/s after it)`);
  console.log(`    executor pool:  ${pool.programsPerSec.toFixed(1)} programs/s (${pool.seconds.toFixed(1)} s)`);
  // Both phases share the cores with the executors: this process's CPU per program is what the
  // topology (with the in-process broker) takes from the Python runs.
  console.log(`    this process's CPU per program: ${topology.cpuMsPerProgram.toFixed(2)} ms with the topology and the in-process broker; ${pool.cpuMsPerProgram.toFixed(2)} ms with the pool alone`);
  console.log(`    machine CPU busy: ${topology.machineBusy} with the topology, ${pool.machineBusy} with the pool alone`);
  console.log(`    executor slots busy (${concurrency}): ${topology.slotsBusy.toFixed(2)} of the time with the topology, ${pool.slotsBusy.toFixed(2)} with the pool alone; summed run time ${topology.summedRunSeconds.toFixed(1)} s vs ${pool.summedRunSeconds.toFixed(1)} s`);
  console.log(`    ratio topology/pool: ${(topology.programsPerSec / pool.programsPerSec).toFixed(2)}`);
}

/**
 * The topology on topics of its own for this round, timed from its start until the brokers hold a
 * trace of every run (the high watermarks of `traces`: asking for them moves no data). As on a
 * deployed cluster, the solutions are in their topic and the topics exist before the clock starts.
 * Reading the traces back is a dataset writer's work, on other machines in a deployment; here it
 * would share the 2 cores with the executors, so it happens after the clock stops, and checks that
 * every run has exactly one trace, the one its key names.
 */
async function timeTopology(context: PipelineContext, round: number): Promise<TopologyFigures> {
  const { client, codec, registry, solutions, runs, concurrency, maxDiffsPerRun } = context;
  const suffix = `-bench-${Date.now().toString(36)}-r${round}`;
  const topics: TraceTopics = {
    solutions: `${DEFAULT_TRACE_TOPICS.solutions}${suffix}`,
    traces: `${DEFAULT_TRACE_TOPICS.traces}${suffix}`,
    diffs: `${DEFAULT_TRACE_TOPICS.diffs}${suffix}`,
    deadLetters: `${DEFAULT_TRACE_TOPICS.deadLetters}${suffix}`,
  };
  await produceSolutions(client, codec, topics.solutions, solutions);
  await ensureTopics({ client, topics: traceTopicSpecs(topics), embedded: true, log: { warn: () => undefined } });
  const watermarks = await openWatermarks(client, topics.traces);
  let firstTraceAt = 0;

  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const machineStarted = machineCpu();
  const topology = await startTraceTopology({
    client, registry, embedded: true, topics, groupId: `bench-trace${suffix}`, pool: { concurrency },
    ...(maxDiffsPerRun === undefined ? {} : { maxDiffsPerRun }),
  });
  let collectedAt: number;
  let cpu: NodeJS.CpuUsage;
  let machineBusyShare: string;
  try {
    await watermarks.waitFor(runs.length, () => { firstTraceAt ||= performance.now(); });
    collectedAt = performance.now();
    cpu = process.cpuUsage(cpuStarted);
    machineBusyShare = machineBusy(machineStarted);
  } finally {
    await topology.close();
  }
  const stored = await watermarks.total();
  await watermarks.close();
  if (stored !== runs.length) throw new Error(`${topics.traces} holds ${stored} records for ${runs.length} runs: the clock stopped on a count that included duplicates`);
  const runIds = new Set(runs.map((r) => r.runId));
  let runMs = 0;
  for (const [runId, value] of await readTraces(client, topics.traces, runIds)) {
    const trace = await codec.decode(value, 'ExecutionTrace');
    if (trace.runId !== runId) throw new Error(`the trace keyed ${runId} is the trace of ${trace.runId}`);
    runMs += trace.wallTimeMs;
  }
  const seconds = (collectedAt - started) / 1000;
  const firstTraceSeconds = (firstTraceAt - started) / 1000;
  return {
    ...phaseFigures(solutions.length, seconds, cpu, machineBusyShare, runMs, concurrency),
    firstTraceSeconds,
    // The mock cluster's group join costs time the pool never pays: the rate after the first trace
    // shows what the topology itself costs per program.
    steadyProgramsPerSec: (solutions.length - 1) / (seconds - firstTraceSeconds),
  };
}

/** The pool alone, timed from before it starts (the topology's time includes starting its pool). */
async function timePool(context: PipelineContext): Promise<PhaseFigures> {
  const { runs, concurrency } = context;
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const machineStarted = machineCpu();
  const pool = await createExecutorPool({ concurrency });
  let runMs = 0;
  try {
    // As many runs submitted as the pool holds (running and queued), as the topology keeps it:
    // a freed slot never waits for the next submission.
    const executions = await eachBounded(runs, concurrency + pool.maxQueued, (run) => pool.run(run));
    runMs = executions.reduce((sum, execution) => sum + execution.wallTimeMs, 0);
  } finally {
    await pool.close();
  }
  const seconds = (performance.now() - started) / 1000;
  return phaseFigures(context.solutions.length, seconds, process.cpuUsage(cpuStarted), machineBusy(machineStarted), runMs, concurrency);
}

function phaseFigures(programs: number, seconds: number, cpu: NodeJS.CpuUsage, machineBusyShare: string, runMs: number, concurrency: number): PhaseFigures {
  return {
    seconds,
    programsPerSec: programs / seconds,
    cpuMsPerProgram: (cpu.user + cpu.system) / 1000 / programs,
    machineBusy: machineBusyShare,
    slotsBusy: runMs / 1000 / (concurrency * seconds),
    summedRunSeconds: runMs / 1000,
  };
}

/**
 * Reads `topic` (every partition, no group) until a record keyed by each run id arrived: the first
 * value of each run.
 */
async function readTraces(client: KafkaClientConfig, topic: string, runIds: ReadonlySet<string>): Promise<Map<string, Buffer>> {
  const seen = new Map<string, Buffer>();
  const source = kafkaSource({ client, groupId: `bench-read-${Date.now()}`, topics: [topic], assignAllPartitions: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const subscription = source.records.subscribe({
        next(record) {
          record.ack();
          const runId = record.key?.toString();
          if (runId === undefined || record.value === null || !runIds.has(runId) || seen.has(runId)) return;
          seen.set(runId, record.value);
          if (seen.size === runIds.size) {
            subscription.unsubscribe();
            resolve();
          }
        },
        error: reject,
        complete: () => reject(new Error(`${topic} ended with ${seen.size} of ${runIds.size} traces`)),
      });
    });
  } finally {
    await source.close();
  }
  return seen;
}

/** How many records the brokers hold in a topic, from its partitions' high watermarks. */
async function openWatermarks(client: KafkaClientConfig, topic: string): Promise<{
  total(): Promise<number>;
  waitFor(count: number, onFirst: () => void): Promise<void>;
  close(): Promise<void>;
}> {
  const consumer = new Kafka.KafkaConsumer({ 'bootstrap.servers': client.bootstrapServers, 'group.id': `bench-watermarks-${Date.now()}` }, {});
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  const metadata = await new Promise<Kafka.Metadata>((resolve, reject) => consumer.getMetadata({ topic, timeout: 10_000 }, (err, data) => (err ? reject(err) : resolve(data))));
  const partitions = metadata.topics.find((t) => t.name === topic)?.partitions.map((p) => p.id) ?? [];
  if (partitions.length === 0) throw new Error(`${topic} has no partitions`);
  const high = (partition: number): Promise<number> => new Promise((resolve, reject) => {
    consumer.queryWatermarkOffsets(topic, partition, 10_000, (err, offsets) => (err ? reject(err) : resolve(offsets.highOffset)));
  });
  const total = async (): Promise<number> => (await Promise.all(partitions.map(high))).reduce((a, b) => a + b, 0);
  return {
    total,
    async waitFor(count, onFirst) {
      for (;;) {
        const stored = await total();
        if (stored > 0) onFirst();
        if (stored >= count) return;
        // Every 50 ms: late by at most 0.1% of a minute-long round, and 80 watermark requests a second.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close: () => new Promise<void>((resolve) => consumer.disconnect(() => resolve())),
  };
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
