/**
 * One replay in its own process, so that its peak RSS is its own: bench/replay.ts runs it with
 * `node [flags] dist/bench/replay-child.js '<json>'` and reads one JSON line from its stdout: the
 * time, peak RSS, per phase the peaks of process.memoryUsage() (sampled every 50 ms) and of the V8
 * heap just before each collection, the write phase's peak RSS in each of `segments` equal parts of
 * its runs, and the manifest.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { GCProfiler } from 'node:v8';
import { createAvroCodec, openSchemaRegistry } from '../src/avro/index.js';
import { replayTopic, type DatasetFormat } from '../src/dataset/index.js';
import { TRACESTREAM_CLIENT_PROPERTIES } from '../src/kafka/index.js';

export interface ChildArgs {
  bootstrapServers: string;
  topics: string[];
  outDir: string;
  formats: Exclude<DatasetFormat, 'parquet'>[];
  rowGroupBytes?: number;
  /** Parts of the write phase, by runs written, whose peak RSS is measured apart (as many as copies of the traces). */
  segments?: number;
}

const args = JSON.parse(process.argv[2]!) as ChildArgs;
/** At a phase's highest RSS: what of it is anonymous memory and what is mapped files (code, data files), from /proc/self/status, and the V8 heap then. */
type AtPeak = { rssAnon: number; rssFile: number; heapTotal: number; external: number };
/**
 * `beforeGc`: the largest V8 heap (committed, used) met by a collection. The 50 ms sampler cannot
 * see the heap's real peak: a row group is encoded in one synchronous call, during which no timer
 * runs, and the heap is largest just before V8 collects.
 */
export type Peaks = { rss: number; external: number; atPeak: AtPeak; beforeGc: { heapTotal: number; heapUsed: number } };
const newPeaks = (): Peaks => ({ rss: 0, external: 0, atPeak: { rssAnon: 0, rssFile: 0, heapTotal: 0, external: 0 }, beforeGc: { heapTotal: 0, heapUsed: 0 } });
const statusBytes = (status: string, field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
/** Per phase: reading the topics into the spill, then merging it and writing the files. */
const peaks = { read: newPeaks(), write: newPeaks() };
let phase: keyof typeof peaks = 'read';
const sample = (): void => {
  const usage = process.memoryUsage();
  const current = peaks[phase];
  if (usage.rss > current.rss) {
    const status = readFileSync('/proc/self/status', 'utf8');
    current.atPeak = { rssAnon: statusBytes(status, 'RssAnon'), rssFile: statusBytes(status, 'RssFile'), heapTotal: usage.heapTotal, external: usage.external };
  }
  for (const key of ['rss', 'external'] as const) current[key] = Math.max(current[key], usage[key]);
};
const sampler = setInterval(sample, 50);
let profiler = new GCProfiler();
profiler.start();
/**
 * Folds the collections since the last call into the phase's peaks. Called every second, not only
 * at the phase's end: a GCProfiler keeps a record of every collection (heap and space statistics)
 * in native memory until it is stopped, and `stop()` parses them all at once, so held for a whole
 * phase its records added about 3.5 MiB to the replay's RSS per 1x of data (the 16x write phase's
 * sixteenths peaked from 288 rising to 346 MiB; 282 to 306 and flat from the fourth on when
 * collected every second: README "Benchmarks").
 */
const collectGcPeaks = (): void => {
  const current = peaks[phase].beforeGc;
  for (const { beforeGC } of profiler.stop()?.statistics ?? []) {
    current.heapTotal = Math.max(current.heapTotal, beforeGC.heapStatistics.totalHeapSize);
    current.heapUsed = Math.max(current.heapUsed, beforeGC.heapStatistics.usedHeapSize);
  }
  profiler = new GCProfiler();
  profiler.start();
};
const gcCollector = setInterval(collectGcPeaks, 1000);
/**
 * The kernel's high-water mark of RSS (VmHWM), restarted at each of the write phase's segments by
 * writing 5 to /proc/self/clear_refs, so each segment's peak is exact, not sampled. Whether peak RSS
 * grows with the data shows there: with Nx the traces N times, a later segment would peak higher than
 * the first ones. The whole replay's peak is the highest of the marks read. Empty where clear_refs
 * cannot be written (not Linux).
 */
const segmentPeaks: number[] = [];
let highWaterMark = 0;
const readHighWaterMark = (): number => statusBytes(readFileSync('/proc/self/status', 'utf8'), 'VmHWM');
const restartHighWaterMark = (): boolean => {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
};
const segments = args.segments ?? 1;
let segmented = false;
const endSegment = (): void => {
  const peak = readHighWaterMark();
  highWaterMark = Math.max(highWaterMark, peak);
  if (segmented) segmentPeaks.push(peak);
  segmented = restartHighWaterMark();
};
const registry = await openSchemaRegistry({ brokers: args.bootstrapServers });
try {
  const started = performance.now();
  const { manifest } = await replayTopic({
    client: { bootstrapServers: args.bootstrapServers, clientId: 'bench-replay', librdkafka: TRACESTREAM_CLIENT_PROPERTIES },
    codec: createAvroCodec(registry),
    topics: args.topics,
    outDir: args.outDir,
    formats: args.formats,
    onProgress: (progress) => {
      if (progress.phase !== phase) {
        sample();
        collectGcPeaks();
        endSegment();
      } else if (segmented && progress.phase === 'write' && segmentPeaks.length < segments - 1 && progress.done >= ((segmentPeaks.length + 1) * progress.total) / segments) {
        endSegment();
      }
      phase = progress.phase;
    },
    ...(args.rowGroupBytes === undefined ? {} : { rowGroupBytes: args.rowGroupBytes }),
  });
  const seconds = (performance.now() - started) / 1000;
  sample();
  collectGcPeaks();
  endSegment();
  // Not getrusage's maxRSS where VmHWM can be read: Linux carries into it, at exec, the RSS of the
  // process that forked this one (the bench, holding the embedded broker: 453 MiB with 16 topics).
  const maxRssBytes = highWaterMark > 0 ? highWaterMark : process.resourceUsage().maxRSS * 1024;
  process.stdout.write(`${JSON.stringify({ seconds, maxRssBytes, peaks, segmentPeaks, manifest })}\n`);
} finally {
  clearInterval(sampler);
  clearInterval(gcCollector);
  await registry.close();
}
