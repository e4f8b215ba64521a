/**
 * The per-run figures docs/capacity.md sizes a deployment from: bytes each run puts on the
 * brokers (its ExecutionTrace and LineDiff events, Avro, and zstd-compressed as our producers send
 * them), from the dataset the main job wrote (`trace CORPUS --out DIR`: manifest.json and Parquet
 * shards, one row per run, the program's source included).
 *
 *   node dist/bench/capacity.js DIR [--max-diffs-per-run 2000] [--limit N]
 *
 * Each row is turned back into the events the trace topology produced for that run. The dataset
 * leaves out what differs each time a program runs (wall and CPU time, production time) and the
 * `cut` list; those are fixed-size fields, set here to 0, now and [] (a few bytes per run).
 * Runs are compressed one at a time, so cross-run redundancy in a producer batch is not counted:
 * the compressed figures are an upper bound on what the brokers store.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import zstd from 'zstd-napi';
import { eventSchema, outcomeToAvro, type ExecutionTrace } from '../src/avro/index.js';
import { toDatasetRow, type DatasetManifest, type DatasetRow } from '../src/dataset/index.js';
import { DEFAULT_MAX_DIFFS_PER_RUN, toLineDiffs } from '../src/pipeline/index.js';
import type { Outcome } from '../src/runs/index.js';

// librdkafka's default zstd level for compression.type=zstd.
const ZSTD_LEVEL = 3;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

/** Parquet INT64 columns read as BigInt. */
const num = (value: unknown): number => (typeof value === 'bigint' ? Number(value) : (value as number));

/** The ExecutionTrace a dataset row was made from (src/dataset/row.ts, the other way round). */
function traceOfRow(row: DatasetRow): ExecutionTrace {
  const exception = (e: { type: string; message: string } | null): ExecutionTrace['exception'] => (e === null ? null : { type: e.type, message: e.message });
  const l = row.limits;
  return {
    schemaVersion: 1, runId: row.run_id, solutionId: row.solution_id, problemId: row.problem_id, inputIndex: num(row.input_index),
    contentHash: row.content_hash, tracerVersion: row.tracer_version, pythonVersion: row.python_version,
    outcome: outcomeToAvro(row.outcome as Outcome), exitCode: row.exit_code === null ? null : num(row.exit_code), signal: row.signal,
    reason: row.reason, stdout: row.stdout, stderrTail: row.stderr_tail, outputFile: row.output_file, exception: exception(row.exception),
    wallTimeMs: 0, cpuTimeMs: 0,
    limits: {
      wallTimeMs: num(l.wall_time_ms), cpuTimeMs: num(l.cpu_time_ms), addressSpaceBytes: num(l.address_space_bytes), outputBytes: num(l.output_bytes),
      maxSteps: num(l.max_steps), traceBytes: num(l.trace_bytes), openFiles: num(l.open_files), reprChars: num(l.repr_chars),
    },
    stepCount: num(row.step_count), traceTruncated: row.truncated,
    steps: row.steps.map((s) => ({
      index: num(s.index), event: s.event as ExecutionTrace['steps'][number]['event'], line: num(s.line), depth: num(s.depth), function: s.function,
      changes: s.changes.map((c) => ({ name: c.name, kind: c.kind as 'new' | 'modified' | 'deleted', value: c.value })),
      value: s.value, exception: exception(s.exception), stdout: s.stdout,
    })),
    producedAtMs: Date.now(), cut: [], source: row.source, stdin: row.stdin,
    origin: (typeof row.origin === 'string' ? JSON.parse(row.origin) : row.origin) as Record<string, string>,
  };
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { 'max-diffs-per-run': { type: 'string' }, limit: { type: 'string' } } });
  const [datasetDir] = positionals;
  if (datasetDir === undefined) throw new Error('usage: capacity.js DATASET_DIR [--max-diffs-per-run N] [--limit N]   (DATASET_DIR: what `trace --out` or `replay --out` wrote)');
  const maxDiffs = values['max-diffs-per-run'] === undefined ? DEFAULT_MAX_DIFFS_PER_RUN : Number(values['max-diffs-per-run']);
  const limit = values.limit === undefined ? Infinity : Number(values.limit);
  const manifest = JSON.parse(await readFile(join(datasetDir, 'manifest.json'), 'utf8')) as DatasetManifest;
  const shards = manifest.files.filter((f) => f.format === 'parquet');
  if (shards.length === 0) throw new Error(`${datasetDir}/manifest.json lists no Parquet shards`);

  const traceType = eventSchema('ExecutionTrace').type;
  const diffType = eventSchema('LineDiff').type;
  const compressor = new zstd.Compressor();
  compressor.setParameters({ compressionLevel: ZSTD_LEVEL });
  const perRun: { trace: number; diffs: number; diffCount: number; compressed: number; solution: number }[] = [];
  for (const shard of shards) {
    if (perRun.length >= limit) break;
    const rows = await parquetReadObjects({
      file: await asyncBufferFromFile(join(datasetDir, shard.path)),
      columns: ['run_id', 'solution_id', 'problem_id', 'input_index', 'content_hash', 'source', 'stdin', 'origin', 'outcome', 'reason', 'exit_code', 'signal',
        'stdout', 'stderr_tail', 'output_file', 'exception', 'step_count', 'truncated', 'tracer_version', 'python_version', 'limits', 'steps', 'compact'],
      compressors: { ZSTD: (input: Uint8Array) => zstd.decompress(input) },
    }) as unknown as DatasetRow[];
    for (const row of rows) {
      if (perRun.length >= limit) break;
      const trace = traceOfRow(row);
      // The round trip is checked, not trusted: the rebuilt trace must render the row's own compact text.
      if (toDatasetRow(trace).compact !== row.compact) throw new Error(`${row.run_id}: the trace rebuilt from its row renders differently; traceOfRow is out of date with src/dataset/row.ts`);
      // A 5-byte wire header (magic byte + schema id) precedes every event.
      const encodedTrace = traceType.toBuffer(trace);
      const diffs = toLineDiffs(trace, row.source, maxDiffs).map((diff) => diffType.toBuffer(diff));
      const diffBytes = diffs.reduce((total, d) => total + d.length + 5, 0);
      const compressed = compressor.compress(Buffer.concat([encodedTrace, ...diffs])).length;
      perRun.push({ trace: encodedTrace.length + 5, diffs: diffBytes, diffCount: diffs.length, compressed, solution: Buffer.byteLength(row.source) + Buffer.byteLength(row.stdin) });
    }
  }
  const n = perRun.length;
  const sum = (pick: (r: (typeof perRun)[number]) => number): number => perRun.reduce((t, r) => t + pick(r), 0);
  const sortedTotal = perRun.map((r) => r.trace + r.diffs).sort((a, b) => a - b);
  const sortedTrace = perRun.map((r) => r.trace).sort((a, b) => a - b);
  const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
  console.log(`dataset                       ${datasetDir} (${manifest.records.written} runs in ${shards.length} Parquet shard(s); ${n} read)`);
  console.log(`runs                          ${n}`);
  console.log(`source + stdin per run        mean ${kib(sum((r) => r.solution) / n)}`);
  console.log(`ExecutionTrace bytes per run  mean ${kib(sum((r) => r.trace) / n)}  p50 ${kib(percentile(sortedTrace, 0.5))}  p99 ${kib(percentile(sortedTrace, 0.99))}  max ${kib(sortedTrace[n - 1] ?? 0)}`);
  console.log(`LineDiff events per run       mean ${(sum((r) => r.diffCount) / n).toFixed(1)} (at most ${maxDiffs})`);
  console.log(`LineDiff bytes per run        mean ${kib(sum((r) => r.diffs) / n)}`);
  console.log(`all events per run (Avro)     mean ${kib(sum((r) => r.trace + r.diffs) / n)}  p50 ${kib(percentile(sortedTotal, 0.5))}  p99 ${kib(percentile(sortedTotal, 0.99))}`);
  console.log(`all events per run (zstd ${ZSTD_LEVEL})   mean ${kib(sum((r) => r.compressed) / n)}  (ratio ${(sum((r) => r.compressed) / sum((r) => r.trace + r.diffs)).toFixed(3)})`);
  console.log(`traces topic share (Avro)     ${(sum((r) => r.trace) / sum((r) => r.trace + r.diffs)).toFixed(3)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
