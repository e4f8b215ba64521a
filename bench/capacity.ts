/**
 * The per-run figures docs/capacity.md sizes a deployment from: bytes each run puts on the
 * brokers (its ExecutionTrace and LineDiff events, Avro, and zstd-compressed as our producers send
 * them), from a dataset the main job wrote, and the corpus the dataset was traced from.
 *
 *   node dist/bench/capacity.js out/traces.jsonl ../shared/corpus/hackerrank-dev.jsonl [--max-diffs-per-run 2000]
 *
 * Runs are compressed one at a time, so cross-run redundancy in a producer batch is not counted:
 * the compressed figures are an upper bound on what the brokers store.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import zstd from 'zstd-napi';
import { eventSchema, type ExecutionTrace } from '../src/avro/index.js';
import { DEFAULT_MAX_DIFFS_PER_RUN, readSolutions, toLineDiffs } from '../src/pipeline/index.js';

// librdkafka's default zstd level for compression.type=zstd.
const ZSTD_LEVEL = 3;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { 'max-diffs-per-run': { type: 'string' } } });
  const [tracesPath, corpusPath] = positionals;
  if (tracesPath === undefined || corpusPath === undefined) throw new Error('usage: capacity.js TRACES.jsonl CORPUS.jsonl [--max-diffs-per-run N]');
  const maxDiffs = values['max-diffs-per-run'] === undefined ? DEFAULT_MAX_DIFFS_PER_RUN : Number(values['max-diffs-per-run']);
  const sources = new Map<string, string>();
  for await (const solution of readSolutions(corpusPath)) sources.set(solution.solutionId, solution.source);

  const traceType = eventSchema('ExecutionTrace').type;
  const diffType = eventSchema('LineDiff').type;
  const compressor = new zstd.Compressor();
  compressor.setParameters({ compressionLevel: ZSTD_LEVEL });
  const perRun: { trace: number; diffs: number; diffCount: number; compressed: number }[] = [];
  const lines = createInterface({ input: createReadStream(tracesPath), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    // The dataset leaves timings out (so equal inputs give equal bytes); the events carry them.
    const trace = { wallTimeMs: 0, cpuTimeMs: 0, producedAtMs: Date.now(), ...JSON.parse(line) } as ExecutionTrace;
    const source = sources.get(trace.solutionId);
    if (source === undefined) throw new Error(`${trace.runId}: solution not in ${corpusPath}`);
    // A 5-byte wire header (magic byte + schema id) precedes every event.
    const encodedTrace = traceType.toBuffer(trace);
    const diffs = toLineDiffs(trace, source, maxDiffs).map((diff) => diffType.toBuffer(diff));
    const diffBytes = diffs.reduce((total, d) => total + d.length + 5, 0);
    const compressed = compressor.compress(Buffer.concat([encodedTrace, ...diffs])).length;
    perRun.push({ trace: encodedTrace.length + 5, diffs: diffBytes, diffCount: diffs.length, compressed });
  }
  const n = perRun.length;
  const sum = (pick: (r: (typeof perRun)[number]) => number): number => perRun.reduce((t, r) => t + pick(r), 0);
  const sortedTotal = perRun.map((r) => r.trace + r.diffs).sort((a, b) => a - b);
  const sortedTrace = perRun.map((r) => r.trace).sort((a, b) => a - b);
  const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
  console.log(`runs                          ${n}`);
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
