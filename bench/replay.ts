/**
 * Replay benchmark on an embedded (in-process) mock cluster holding a corpus' traces:
 * - runs/s and MB/s of `replayTopic` per format (Parquet alone; Parquet + JSON lines + compact text),
 *   and replay time ÷ a bare read of the same topic (no decoding, no writing);
 * - peak RSS of the replay process with the traces once (1x: one topic) and four times (4x: four
 *   topics, each holding the traces under other run ids, replayed together into one dataset): it
 *   must not grow with the data. Nx's write phase also gives its peak RSS in each 1/N of its runs
 *   (the kernel's high-water mark, restarted per part): a later part peaking above the first ones is
 *   memory that grows with the data, rather than buffers and heaps warming up. The mock cluster
 *   keeps about 5 MiB of compressed batches per partition (4 per topic), about twice the dev
 *   corpus' traces, so 4x needs four topics;
 * - bytes per executed step of each file format, next to the compact text and today's traces.jsonl
 *   (JSON of every trace without timings). Target: the Parquet dataset at most 10 bytes per step.
 *
 *   npm run bench:replay -- CORPUS.jsonl|TRACES.jsonl [--corpus CORPUS.jsonl] [--limit N] [--copies 4]
 *     [--copies-apart] [--spread] [--row-group-bytes N] [--max-old-space-size MiB]
 *
 * `--spread` replaces Nx with the traces once, dealt over N topics: as many partitions as Nx with
 * 1x's data, to tell what grows with the data from what grows with the partitions. A copy's run ids
 * end in `~<copy>`, so the copies of a trace sit side by side in run id order (the same row group);
 * `--copies-apart` starts them with `<copy>~` instead, so that each copy's rows come as 1x's do.
 *
 * Given a corpus (lines with `id`, `source`, `stdin`, as ../shared/corpus/hackerrank-dev.jsonl), it
 * first traces every program through an executor pool (not timed). Given TRACES.jsonl (one
 * ExecutionTrace per line: the decoded events of a trace topic), it uses those; traces without a
 * source get it, with their stdin and origin, from CORPUS.jsonl (default
 * ../shared/corpus/hackerrank-dev.jsonl) by solution id. Speed figures vary with the machine's load;
 * sizes do not. Each replay runs in its own process (as `tracestream replay` would, no V8 flags
 * unless --max-old-space-size is given), which samples its memory to say where the peak is.
 */
import { execFile } from 'node:child_process';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { createAvroCodec, openSchemaRegistry, type ExecutionTrace, type SolutionSubmitted } from '../src/avro/index.js';
import { createExecutorPool } from '../src/executor/index.js';
import { DEFAULT_ROW_GROUP_BYTES, DEFAULT_ROW_GROUP_CHANGES, DEFAULT_ROW_GROUP_STEPS, resolveScanRanges, type DatasetManifest } from '../src/dataset/index.js';
import { openTopicScan } from '../src/dataset/scan.js';
import { createProducer, EMBEDDED_PARTITION_RETENTION_BYTES, startEmbeddedBroker, TRACESTREAM_CLIENT_PROPERTIES, type KafkaClientConfig, type OutgoingRecord } from '../src/kafka/index.js';
import { executionOf, readSolutions, toTraceEvent } from '../src/pipeline/index.js';
import { renderCompact } from '../src/render/index.js';
import type { ChildArgs, Peaks } from './replay-child.js';

const CHILD = fileURLToPath(new URL('./replay-child.js', import.meta.url));

interface ChildResult {
  seconds: number;
  maxRssBytes: number;
  /** Per phase (reading into the spill; merging and writing): peaks of process.memoryUsage() fields sampled every 50 ms, and of the V8 heap just before each collection. */
  peaks: Record<'read' | 'write', Peaks>;
  /** The write phase's peak RSS (kernel high-water mark) in each equal part of its runs; empty where it cannot be restarted. */
  segmentPeaks: number[];
  manifest: DatasetManifest;
}

const MiB = 2 ** 20;

async function main(argv: readonly string[]): Promise<void> {
  const { positionals, values: flags } = parseArgs({
    args: [...argv], allowPositionals: true,
    options: {
      corpus: { type: 'string' }, limit: { type: 'string' }, copies: { type: 'string' },
      'row-group-bytes': { type: 'string' }, 'max-old-space-size': { type: 'string' },
      spread: { type: 'boolean', default: false }, 'copies-apart': { type: 'boolean', default: false },
    },
  });
  const inputPath = positionals[0];
  if (inputPath === undefined) {
    throw new Error('usage: npm run bench:replay -- CORPUS.jsonl|TRACES.jsonl [--corpus CORPUS.jsonl] [--limit N] [--copies 4] [--copies-apart] [--spread] [--row-group-bytes N] [--max-old-space-size MiB]');
  }
  const limit = flags.limit === undefined ? Infinity : Number(flags.limit);
  const copies = flags.copies === undefined ? 4 : Number(flags.copies);
  const rowGroupBytes = flags['row-group-bytes'] === undefined ? undefined : Number(flags['row-group-bytes']);
  const heapMiB = flags['max-old-space-size'] === undefined ? undefined : Number(flags['max-old-space-size']);
  const topics = Array.from({ length: copies }, (_, copy) => `traces-${copy}`);
  // --spread: the traces once, dealt over as many topics as copies (as many partitions as Nx, 1x's data).
  const spreadTopics = Array.from({ length: copies }, (_, share) => `spread-${share}`);
  const traces = await holdsTraces(inputPath)
    ? readTraces(inputPath, loadCorpus(flags.corpus ?? resolve(process.cwd(), '../shared/corpus/hackerrank-dev.jsonl')), limit)
    : traceCorpus(inputPath, limit);

  const broker = await startEmbeddedBroker();
  const client: KafkaClientConfig = { bootstrapServers: broker.bootstrapServers, clientId: 'bench-replay', librdkafka: TRACESTREAM_CLIENT_PROPERTIES };
  const registry = await openSchemaRegistry({ brokers: broker.bootstrapServers });
  const work = await mkdtemp(join(tmpdir(), 'tracestream-bench-replay-'));
  try {
    const codec = createAvroCodec(registry);
    const producer = await createProducer({ client });
    let runs = 0;
    let steps = 0;
    let jsonlBytes = 0;
    let compactBytes = 0;
    let avroBytes = 0;
    let avroBytesAllTopics = 0;
    try {
      let batch: OutgoingRecord[] = [];
      for await (const trace of traces) {
        runs += 1;
        steps += trace.stepCount;
        const { producedAtMs: _p, wallTimeMs: _w, cpuTimeMs: _c, source: _s, stdin: _i, origin: _o, ...legacy } = trace;
        jsonlBytes += Buffer.byteLength(JSON.stringify(legacy)) + 1;
        compactBytes += Buffer.byteLength(renderCompact(executionOf(trace), { source: trace.source ?? '' }));
        const value = await codec.encode('ExecutionTrace', trace);
        avroBytes += value.length;
        // Copy k (a topic of its own) holds the same programs under other solution and run ids.
        if (flags.spread) batch.push({ topic: spreadTopics[(runs - 1) % copies]!, key: trace.runId, value });
        for (const [copy, topic] of (flags.spread ? topics.slice(0, 1) : topics).entries()) {
          const solutionId = copy === 0 ? trace.solutionId : flags['copies-apart'] ? `${copy}~${trace.solutionId}` : `${trace.solutionId}~${copy}`;
          const runId = `${solutionId}#${trace.inputIndex}`;
          const copied = copy === 0 ? value : await codec.encode('ExecutionTrace', { ...trace, solutionId, runId });
          avroBytesAllTopics += copied.length;
          batch.push({ topic, key: runId, value: copied });
        }
        if (batch.length >= 100) {
          await producer.send(batch);
          batch = [];
        }
      }
      await producer.send(batch);
    } finally {
      await producer.close();
    }
    console.log(`${runs} runs, ${steps} executed steps, ${(avroBytes / 1e6).toFixed(1)} MB of Avro traces in topic ${topics[0]} `
      + `(and under other run ids in ${topics.slice(1).join(', ') || 'no other topic'})`);
    const flagsOfChild = heapMiB === undefined ? [] : [`--max-old-space-size=${heapMiB}`];
    console.log(`replay processes: node ${flagsOfChild.join(' ') || '(no V8 flags: the default heap limit)'}, `
      + `row groups of at most ${((rowGroupBytes ?? DEFAULT_ROW_GROUP_BYTES) / MiB).toFixed(1)} MiB of traces, `
      + `${DEFAULT_ROW_GROUP_STEPS / 1000}k steps and ${DEFAULT_ROW_GROUP_CHANGES / 1000}k variable changes`);

    // Each figure is printed as soon as it is measured: the 4x replay of a large corpus takes a while.
    const bare = await bareRead(client, topics[0]!);
    console.log(`\nbare read of the topic (no decode, no write): ${bare.seconds.toFixed(2)} s, ${(bare.bytes / 1e6 / bare.seconds).toFixed(1)} MB/s`);
    const replay = (replayed: string[], formats: ChildArgs['formats'], name: string, segments = 1) => runChild(flagsOfChild, {
      bootstrapServers: client.bootstrapServers, topics: replayed, outDir: join(work, name), formats, segments, ...(rowGroupBytes === undefined ? {} : { rowGroupBytes }),
    });
    const rate = (r: ChildResult, bytes = avroBytes) => `${(r.manifest.records.written / r.seconds).toFixed(1)} runs/s, ${(bytes / 1e6 / r.seconds).toFixed(1)} MB/s, ${r.seconds.toFixed(1)} s`;
    const perStep = (bytes: number) => `${(bytes / steps).toFixed(2)} B/step (${(bytes / 1e6).toFixed(1)} MB)`;
    const bytesOf = (m: DatasetManifest, format: string) => m.files.filter((f) => f.format === format).reduce((n, f) => n + f.bytes, 0);

    const parquet = await replay(topics.slice(0, 1), [], 'parquet');
    console.log(`replay, Parquet:                   ${rate(parquet)}, ${(parquet.seconds / bare.seconds).toFixed(2)}x a bare read`);
    const all = await replay(topics.slice(0, 1), ['jsonl', 'compact'], 'all');
    console.log(`replay, Parquet + jsonl + compact: ${rate(all)}, ${(all.seconds / bare.seconds).toFixed(2)}x a bare read`);
    console.log(`\nbytes per executed step (${steps} steps):`);
    console.log(`  Parquet dataset (zstd):      ${perStep(bytesOf(parquet.manifest, 'parquet'))}   target <= 10`);
    console.log(`  JSON lines (zstd):           ${perStep(bytesOf(all.manifest, 'jsonl'))}`);
    console.log(`  compact text shards (zstd):  ${perStep(bytesOf(all.manifest, 'compact'))}`);
    console.log(`  compact text (uncompressed): ${perStep(compactBytes)}`);
    console.log(`  traces.jsonl (uncompressed): ${perStep(jsonlBytes)}`);
    console.log(`  Avro on the topic:           ${perStep(avroBytes)}`);
    const fourfold = await replay(flags.spread ? spreadTopics : topics, [], `parquet-${copies}x`, copies);
    const runsPerTopic = flags.spread ? Math.floor(runs / copies) : runs;
    for (const { topic, partitions } of fourfold.manifest.topics) {
      const held = partitions.reduce((n, p) => n + p.end - p.start, 0);
      if (held >= runsPerTopic) continue;
      console.log(`WARNING: topic ${topic} held only ${held} of ${runsPerTopic} records: the embedded broker keeps about `
        + `${EMBEDDED_PARTITION_RETENTION_BYTES / MiB} MiB of compressed batches per partition; use a smaller --limit`);
    }
    console.log(flags.spread
      ? `\nreplay, Parquet, the traces once over ${copies} topics: ${rate(fourfold)} (${fourfold.manifest.records.written} runs)`
      : `\nreplay, Parquet, ${copies} topics together: ${rate(fourfold, avroBytesAllTopics)} (${fourfold.manifest.records.written} runs, `
      + `${perStep(bytesOf(fourfold.manifest, 'parquet') / copies)} per copy)`);
    console.log(`peak RSS of the replay process (${flagsOfChild.join(' ') || 'no V8 flags'}):`);
    console.log(`  1x (1 topic):        ${memory(parquet)}`);
    console.log(flags.spread
      ? `  1x over ${copies} topics:  ${memory(fourfold)}`
      : `  ${copies}x (${copies} topics):       ${memory(fourfold)}`);
    if (fourfold.segmentPeaks.length > 0) {
      console.log(`  ${flags.spread ? 'the' : `${copies}x's`} write phase, peak RSS in each 1/${copies} of its runs, MiB: `
        + `${fourfold.segmentPeaks.map((bytes) => (bytes / MiB).toFixed(0)).join(' ')} (1x's write phase: ${((parquet.segmentPeaks[0] ?? parquet.maxRssBytes) / MiB).toFixed(0)})`);
    }
  } finally {
    await registry.close();
    await broker.close();
    await rm(work, { recursive: true, force: true });
  }
}

/** A traces file's lines are ExecutionTraces (they have `steps`); a corpus' are programs. Reads the first line only. */
async function holdsTraces(path: string): Promise<boolean> {
  const input = createReadStream(path);
  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      return line.trim() !== '' && 'steps' in (JSON.parse(line) as object);
    }
    return false;
  } finally {
    input.destroy();
  }
}

/**
 * Peak RSS, and per phase the peaks of RSS, of the V8 heap (and of it used, garbage included) and of
 * Buffers and other memory outside the heap that V8 knows of: the rest of RSS is native (librdkafka,
 * zstd, code). At each phase's highest RSS, the anonymous and file-backed parts of it: anonymous
 * minus heap and external is malloc's (librdkafka, zstd, V8's own).
 */
function memory(result: ChildResult): string {
  const mib = (bytes: number) => (bytes / MiB).toFixed(0);
  const phase = (name: 'read' | 'write') => {
    const p = result.peaks[name];
    const at = p.atPeak;
    return `${name} ${mib(p.rss)} (V8 heap before a collection at most ${mib(p.beforeGc.heapTotal)}, used ${mib(p.beforeGc.heapUsed)}; sampled: external ${mib(p.external)}; at its highest RSS: anonymous ${mib(at.rssAnon)}, files ${mib(at.rssFile)}, heap ${mib(at.heapTotal)}, external ${mib(at.external)})`;
  };
  return `peak RSS ${mib(result.maxRssBytes)} MiB; per phase, MiB: ${phase('read')}, ${phase('write')}`;
}

function loadCorpus(path: string): Map<string, { source: string; stdin: string; origin: Record<string, string> }> {
  const corpus = new Map<string, { source: string; stdin: string; origin: Record<string, string> }>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const row = JSON.parse(line) as { id: string; source: string; stdin?: string; origin?: Record<string, string> };
    corpus.set(row.id, { source: row.source, stdin: row.stdin ?? '', origin: row.origin ?? {} });
  }
  return corpus;
}

/**
 * Traces each program of a corpus (read as `tracestream trace` reads it) on its first input,
 * a window of runs in flight, yielding in corpus order so the topic's order is reproducible.
 */
async function* traceCorpus(path: string, limit: number): AsyncGenerator<ExecutionTrace> {
  const pool = await createExecutorPool({});
  try {
    const pending: Promise<ExecutionTrace>[] = [];
    const traceOne = async (solution: SolutionSubmitted): Promise<ExecutionTrace> =>
      toTraceEvent(solution, 0, await pool.run({ source: solution.source, stdin: solution.inputs[0]?.stdin ?? '' }), 0);
    let traced = 0;
    for await (const solution of readSolutions(path)) {
      if (traced >= limit) break;
      traced += 1;
      pending.push(traceOne(solution));
      if (pending.length >= pool.concurrency * 2) yield await pending.shift()!;
      if (traced % 500 === 0) console.error(`traced ${traced} programs`);
    }
    for (const trace of pending) yield await trace;
  } finally {
    await pool.close();
  }
}

async function* readTraces(path: string, corpus: ReturnType<typeof loadCorpus>, limit: number): AsyncGenerator<ExecutionTrace> {
  let count = 0;
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    if (line.trim() === '' || count >= limit) continue;
    const trace = JSON.parse(line) as Partial<ExecutionTrace> & ExecutionTrace;
    const program = corpus.get(trace.solutionId);
    count += 1;
    yield {
      ...trace,
      wallTimeMs: trace.wallTimeMs ?? 0,
      cpuTimeMs: trace.cpuTimeMs ?? 0,
      producedAtMs: trace.producedAtMs ?? 0,
      source: trace.source ?? program?.source ?? '',
      stdin: trace.stdin ?? program?.stdin ?? '',
      origin: trace.origin ?? program?.origin ?? {},
    };
  }
}

async function bareRead(client: KafkaClientConfig, topic: string): Promise<{ seconds: number; bytes: number }> {
  const started = performance.now();
  const scan = await openTopicScan({ client, ranges: await resolveScanRanges(client, [topic], { from: 'beginning' }) });
  let bytes = 0;
  try {
    for await (const batch of scan.batches()) for (const record of batch) bytes += record.value?.length ?? 0;
  } finally {
    await scan.close();
  }
  return { seconds: (performance.now() - started) / 1000, bytes };
}

async function runChild(nodeFlags: string[], args: ChildArgs): Promise<ChildResult> {
  const { stdout } = await promisify(execFile)(process.execPath, [...nodeFlags, CHILD, JSON.stringify(args)], { maxBuffer: 64 * MiB });
  return JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
