/**
 * Pipeline benchmark, in one run on an embedded (in-process) mock cluster:
 * (a) Kafka produce + consume throughput with the native client alone vs through our RxJS sink
 *     and source (`measureKafkaThroughput`) — target: RxJS ≥ 80% of raw;
 * (b) programs/s of the trace topology end to end (solutions produced first, timed from topology
 *     start until every trace was read back) vs the executor pool alone on the same programs —
 *     target: topology ≥ 90% of the pool.
 *
 *   npm run bench:pipeline -- [PATH.jsonl] [--limit N] [--messages N] [--concurrency N] [--max-diffs-per-run N]
 *
 * PATH.jsonl defaults to ../shared/corpus/hackerrank-dev.jsonl (from the working directory).
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { startTraceTopology } from '../topologies/trace.js';
import { measureKafkaThroughput } from './kafka-throughput.js';
import { createAvroCodec, openSchemaRegistry, type SolutionSubmitted } from '../src/avro/index.js';
import { parseArgs } from '../src/cli/args.js';
import { produceSolutions } from '../src/cli/commands/produce.js';
import { TRACESTREAM_CLIENT_PROPERTIES } from '../src/cli/connect.js';
import { createExecutorPool } from '../src/executor/index.js';
import { startEmbeddedBroker, type KafkaClientConfig } from '../src/kafka/index.js';
import { DEFAULT_TRACE_TOPICS, collectTraces, readSolutions, runIdOf } from '../src/topology/index.js';

const MESSAGE_BYTES = 256;

async function main(argv: readonly string[]): Promise<void> {
  const { positionals, flags } = parseArgs(argv);
  const path = positionals[0] ?? resolve(process.cwd(), '../shared/corpus/hackerrank-dev.jsonl');
  const limit = positiveFlag(flags['limit'], 'limit', 300);
  const messages = positiveFlag(flags['messages'], 'messages', 50_000);
  const concurrency = positiveFlag(flags['concurrency'], 'concurrency', availableParallelism());
  const maxDiffsPerRun = flags['max-diffs-per-run'] === undefined ? undefined : Number(flags['max-diffs-per-run']);

  const broker = await startEmbeddedBroker();
  try {
    console.log(`(a) Kafka produce+consume, ${messages} records of ${MESSAGE_BYTES} B, embedded mock cluster`);
    const kafka = await measureKafkaThroughput({ bootstrapServers: broker.bootstrapServers, messages, valueBytes: MESSAGE_BYTES });
    console.log(`  raw client:       ${kafka.rawMsgsPerSec} msgs/s`);
    console.log(`  rxjs sink+source: ${kafka.rxMsgsPerSec} msgs/s`);
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

    let started = performance.now();
    let firstTraceAt = 0;
    let collectedAt = 0;
    const topology = await startTraceTopology({
      client, registry, embedded: true, topics, groupId: 'bench-trace', pool: { concurrency },
      ...(maxDiffsPerRun === undefined ? {} : { maxDiffsPerRun }),
    });
    try {
      await collectTraces({
        client, codec, topic: topics.traces, runIds: new Set(runs.map((r) => r.runId)),
        onTrace: () => { firstTraceAt ||= performance.now(); },
      });
      collectedAt = performance.now();
    } finally {
      await topology.close();
    }
    const topologySeconds = (collectedAt - started) / 1000;
    const firstTraceSeconds = (firstTraceAt - started) / 1000;

    const pool = await createExecutorPool({ concurrency });
    started = performance.now();
    try {
      let next = 0;
      await Promise.all(Array.from({ length: Math.min(concurrency, runs.length) }, async () => {
        while (next < runs.length) await pool.run(runs[next++]!);
      }));
    } finally {
      await pool.close();
    }
    const poolSeconds = (performance.now() - started) / 1000;

    const topologyRate = solutions.length / topologySeconds;
    const poolRate = solutions.length / poolSeconds;
    console.log(`  trace topology: ${topologyRate.toFixed(1)} programs/s (${topologySeconds.toFixed(1)} s, first trace after ${firstTraceSeconds.toFixed(1)} s: group join and pool start)`);
    // The mock cluster's group join costs seconds the pool never pays: the rate after the first
    // trace shows what the topology itself costs per program.
    const steadyRate = (solutions.length - 1) / (topologySeconds - firstTraceSeconds);
    console.log(`  trace topology after its first trace: ${steadyRate.toFixed(1)} programs/s`);
    console.log(`  executor pool:  ${poolRate.toFixed(1)} programs/s (${poolSeconds.toFixed(1)} s)`);
    console.log(`  ratio topology/pool: ${(topologyRate / poolRate).toFixed(2)} end to end, ${(steadyRate / poolRate).toFixed(2)} after the first trace (target >= 0.90)`);
  } finally {
    await registry.close();
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
