/**
 * How much smaller the compact format is than snoop's text, on real traces.
 *
 *   node dist/bench/compact-size.js traces.jsonl
 *
 * Each line of the file is an `Execution` as JSON, or `{ "execution": Execution, "source": "..." }`
 * (with the source both renderings show the program's lines). Prints byte totals, the total ratio
 * compact/snoop, per-trace ratio percentiles, and the same totals gzipped (snoop text is known to
 * be highly compressible; the gzip figures say how much of that the compact format already removes).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Execution } from '../src/runs/index.js';
import { renderCompact, renderSnoop } from '../src/render/index.js';

export interface SizedTrace {
  execution: Execution;
  source?: string;
}

export interface CompactSizeReport {
  traces: number;
  steps: number;
  snoopBytes: number;
  compactBytes: number;
  /** The compact texts without their source header (snoop shows only the lines that ran). */
  compactTraceOnlyBytes: number;
  /** compactBytes / snoopBytes over all traces. */
  ratio: number;
  /** Per-trace compact/snoop ratios: median and 90th percentile (the worst traces for compact). */
  ratioMedian: number;
  ratioP90: number;
  snoopGzipBytes: number;
  compactGzipBytes: number;
}

/** Renders every trace both ways and totals the UTF-8 sizes. */
export async function measureCompactSize(
  traces: Iterable<SizedTrace> | AsyncIterable<SizedTrace>,
): Promise<CompactSizeReport> {
  const ratios: number[] = [];
  const report: CompactSizeReport = {
    traces: 0, steps: 0, snoopBytes: 0, compactBytes: 0, compactTraceOnlyBytes: 0, ratio: Number.NaN,
    ratioMedian: Number.NaN, ratioP90: Number.NaN, snoopGzipBytes: 0, compactGzipBytes: 0,
  };
  for await (const { execution, source } of traces) {
    const options = source === undefined ? {} : { source };
    const snoop = Buffer.from(renderSnoop(execution, options));
    const compact = Buffer.from(renderCompact(execution, options));
    report.traces += 1;
    report.steps += execution.steps.length;
    report.snoopBytes += snoop.length;
    report.compactBytes += compact.length;
    report.compactTraceOnlyBytes += Buffer.byteLength(renderCompact(execution));
    report.snoopGzipBytes += gzipSync(snoop).length;
    report.compactGzipBytes += gzipSync(compact).length;
    ratios.push(compact.length / snoop.length);
  }
  ratios.sort((a, b) => a - b);
  report.ratio = report.compactBytes / report.snoopBytes;
  report.ratioMedian = percentile(ratios, 0.5);
  report.ratioP90 = percentile(ratios, 0.9);
  return report;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function* readTraces(path: string): AsyncGenerator<SizedTrace> {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const record = JSON.parse(line) as Execution | SizedTrace;
    yield 'execution' in record ? record : { execution: record };
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const path = argv[0];
  if (path === undefined) {
    process.stderr.write('usage: node dist/bench/compact-size.js <traces.jsonl>\n');
    return 2;
  }
  const r = await measureCompactSize(readTraces(path));
  const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
  process.stdout.write([
    `traces             ${r.traces} (${r.steps} steps)`,
    `snoop              ${kib(r.snoopBytes)}  gzip ${kib(r.snoopGzipBytes)}`,
    `compact            ${kib(r.compactBytes)}  gzip ${kib(r.compactGzipBytes)}`,
    `compact/snoop      ${r.ratio.toFixed(3)} (per trace: median ${r.ratioMedian.toFixed(3)}, p90 ${r.ratioP90.toFixed(3)})`,
    `  without header   ${(r.compactTraceOnlyBytes / r.snoopBytes).toFixed(3)} (${kib(r.compactTraceOnlyBytes)}; the header is the whole program, snoop shows only lines that ran)`,
    `gzip compact/snoop ${(r.compactGzipBytes / r.snoopGzipBytes).toFixed(3)}`,
    '',
  ].join('\n'));
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
