import { createHash } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { AvroCodec, ExecutionTrace } from '../avro/index.js';
import { readWireHeader } from '../avro/index.js';
import { TracestreamError, describeError, isTracestreamError } from '../errors/index.js';
import { clientConfigSchema, parseOptions, topicNameSchema } from '../kafka/client/config.js';
import { datasetFilterSchema, rowFilter } from './filters.js';
import { limitHeapGrowth } from './heap.js';
import { DEDUPE_RULE, MAX_LISTED_SKIPPED, SPLIT_RULE, type DatasetManifest, type TopicRanges } from './manifest.js';
import { fixMallocMmapThreshold, releaseFreeMallocMemory } from './malloc.js';
import { firstPerRunId, mergeSpills } from './merge.js';
import { publishDataset, writeAtomically } from './publish.js';
import { ROW_SUMMARY_FIELDS, rowSummaryOf, toDatasetRow } from './row.js';
import { offsetsByTopic, openTopicScan, partitionKey, resolveScanRanges, type TopicPartitionRange } from './scan.js';
import { SplitWriter, type StagedShard } from './shards.js';
import type { SkippedRecord } from './spill-file.js';
import { SpillWriter, spilledRanges } from './spill.js';
import { DEFAULT_SPLIT_RATIOS, SPLITS, splitOf, validateSplitRatios } from './splits.js';
import { DatasetStats } from './stats.js';

const MiB = 1024 * 1024;

/**
 * Trace bytes per Parquet row group. Writing a row group takes several times its traces' size once
 * decoded and encoded: the largest share of a replay's memory. Smaller groups save memory but make
 * the files larger (2 MiB: a quarter less peak RSS, a third more bytes per step; README "Benchmarks").
 */
export const DEFAULT_ROW_GROUP_BYTES = 8 * MiB;
/** Executed steps per row group at most (see ShardLimits.rowGroupSteps); the dev corpus averages about 28 per KiB of trace, so 8 MiB of average traces hold about 230k. */
export const DEFAULT_ROW_GROUP_STEPS = 200_000;
/** Variable changes per row group at most (see ShardLimits.rowGroupChanges); 8 MiB of the dev corpus' traces hold 50k-130k. */
export const DEFAULT_ROW_GROUP_CHANGES = 150_000;

export const replayOptionsSchema = z.object({
  client: clientConfigSchema,
  codec: z.custom<AvroCodec>((v) => typeof v === 'object' && v !== null && typeof (v as AvroCodec).decode === 'function', 'an AvroCodec'),
  /**
   * The trace topics to read: one dataset of them all, one row per run id over every topic. Their
   * order does not matter (they are kept sorted by name), nor does which topic held a record.
   */
  topics: z.array(topicNameSchema).min(1).transform((topics) => [...new Set(topics)].sort()),
  /** The dataset directory; it holds `.replay/` (resume state) while a replay runs. */
  outDir: z.string().min(1),
  start: z.discriminatedUnion('from', [
    z.object({ from: z.literal('beginning') }),
    z.object({ from: z.literal('timestamp'), timestampMs: z.number().int().nonnegative() }),
    /** Next offsets by topic, then partition (a manifest's end offsets: `endOffsetsOf`); others start at the beginning. */
    z.object({ from: z.literal('offsets'), offsets: z.record(z.string(), z.record(z.string(), z.number().int().nonnegative())) }),
  ]).default({ from: 'beginning' }),
  /** Also written beside the Parquet shards. */
  formats: z.array(z.enum(['jsonl', 'compact'])).default([]),
  splitRatios: z.object({ train: z.number(), validation: z.number(), test: z.number() }).default({ ...DEFAULT_SPLIT_RATIOS }),
  filter: datasetFilterSchema.default({}),
  /** Trace bytes staged on disk while reading before they are sorted into a run (memory holds only their index). */
  spillBudgetBytes: z.number().int().positive().default(64 * MiB),
  /** Trace bytes (as on the topic) per shard file. */
  shardBytes: z.number().int().positive().default(512 * MiB),
  /** Trace bytes per Parquet row group: what each split holds in memory while writing. */
  rowGroupBytes: z.number().int().positive().default(DEFAULT_ROW_GROUP_BYTES),
  rowGroupSteps: z.number().int().positive().default(DEFAULT_ROW_GROUP_STEPS),
  rowGroupChanges: z.number().int().positive().default(DEFAULT_ROW_GROUP_CHANGES),
  zstdLevel: z.number().int().min(1).max(22).default(9),
  /**
   * Keep `.replay/` after publishing, and on the next call read on from where this one ended, up to
   * the end offsets of that moment: what `followTopic` does in rounds.
   */
  follow: z.boolean().default(false),
  /** Called as records are read and rows written; a progress bar draws from it. */
  onProgress: z.custom<(progress: ReplayProgress) => void>((v) => typeof v === 'function').optional(),
}).refine((o) => { validateSplitRatios(o.splitRatios); return true; });

export type ReplayOptions = z.input<typeof replayOptionsSchema>;
type ReplayConfig = z.output<typeof replayOptionsSchema>;

export interface ReplayProgress {
  phase: 'read' | 'write';
  /** Records read (read) or runs written (write) so far. */
  done: number;
  /** Records in the offset ranges (read) or traces spilled (write). */
  total: number;
  /** Record bytes read so far (read), trace bytes written (write). */
  bytes: number;
}

export interface ReplayResult {
  manifest: DatasetManifest;
  /** Records this call read from the topics (fewer than manifest.records.read after a resume). */
  recordsRead: number;
}

/** What `.replay/state.json` keeps so that a restarted replay continues the same one. */
interface ReplayState {
  fingerprint: string;
  ranges: TopicPartitionRange[];
}

/**
 * Rebuilds the dataset of trace topics in `outDir` (see README "Replay"): reads every partition of
 * each topic from `start` up to the end offsets taken when the replay began, keeps one trace per run id,
 * writes Parquet shards per split (and JSON lines / compact text when asked), then README.md and
 * manifest.json.
 *
 * Traces go to sorted spill files on disk (`spillBudgetBytes` at a time, staged on disk and
 * indexed in memory until sorted) and are merged back in run id order, so the traces are never all
 * in memory; while it runs V8's heap growth is held down
 * (`limitHeapGrowth`), since almost all it allocates is soon garbage (README "Benchmarks"). Killed
 * and started again with the same options, it reads only the offsets its spill files do not cover
 * yet and ends with the same files.
 */
export async function replayTopic(options: ReplayOptions): Promise<ReplayResult> {
  const config = parseOptions(replayOptionsSchema, options, 'replayTopic');
  fixMallocMmapThreshold();
  const releaseHeapLimit = limitHeapGrowth();
  try {
    return await replayWithConfig(config);
  } finally {
    releaseHeapLimit();
  }
}

async function replayWithConfig(config: ReplayConfig): Promise<ReplayResult> {
  const work = join(config.outDir, '.replay');
  const spillDir = join(work, 'spill');
  const stagingDir = join(work, 'staging');
  await mkdir(spillDir, { recursive: true });
  await rm(stagingDir, { recursive: true, force: true });
  await mkdir(stagingDir, { recursive: true });

  const state = await loadOrStartState(config, work);
  const starts = new Map(state.ranges.map((r) => [partitionKey(r.topic, r.partition), r.start]));
  const { ranges: done, resumeAt } = await spilledRanges(spillDir, starts);
  const recordsRead = await readIntoSpill(config, state.ranges, resumeAt, spillDir, done.reduce((n, r) => n + r.to - r.from + 1, 0));
  const { files, ranges } = await spilledRanges(spillDir, starts);
  releaseFreeMallocMemory();
  const skipped = ranges.flatMap((range) => range.skipped);

  const written = await writeSplits(config, files, stagingDir, ranges.reduce((n, r) => n + r.entries, 0));
  const manifest = await publishDataset(config.outDir, written.staged, {
    format: 'tracestream-dataset/2',
    topics: byTopic(state.ranges),
    formats: ['parquet', ...config.formats],
    filter: config.filter,
    splitRatios: config.splitRatios,
    splitRule: SPLIT_RULE,
    dedupeRule: DEDUPE_RULE,
    records: {
      read: state.ranges.reduce((n, r) => n + r.end - r.start, 0),
      duplicates: written.duplicates,
      filteredOut: written.filteredOut,
      skipped: skipped.length,
      written: written.rows,
    },
    skipped: skipped.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0) || a.partition - b.partition || a.offset - b.offset).slice(0, MAX_LISTED_SKIPPED),
    counts: {
      splits: written.stats.splits,
      outcomes: written.stats.outcomes.toJSON(),
      outcomesBySplit: {
        train: written.stats.outcomesBySplit.train.toJSON(),
        validation: written.stats.outcomesBySplit.validation.toJSON(),
        test: written.stats.outcomesBySplit.test.toJSON(),
      },
      tracerVersions: written.stats.tracerVersions.toJSON(),
      pythonVersions: written.stats.pythonVersions.toJSON(),
      limits: written.stats.limits.toJSON(),
      topOriginRepos: written.stats.originRepos.top(20),
      schemaIds: written.stats.schemaIds.toJSON(),
    },
  });
  if (!config.follow) await rm(work, { recursive: true, force: true });
  return { manifest, recordsRead };
}

/**
 * The offsets this replay covers: those saved by an interrupted replay of the same options, or
 * taken now. A saved state from other options is refused rather than mixed in.
 */
async function loadOrStartState(config: ReplayConfig, work: string): Promise<ReplayState> {
  const fingerprint = createHash('sha256').update(JSON.stringify({
    topics: config.topics, start: config.start, formats: config.formats, splitRatios: config.splitRatios, filter: config.filter,
  })).digest('hex');
  const path = join(work, 'state.json');
  const saved = await readFile(path, 'utf8').then((text) => JSON.parse(text) as ReplayState, () => undefined);
  if (saved !== undefined) {
    if (saved.fingerprint !== fingerprint) {
      throw new TracestreamError('CONFIG_INVALID', `${work} holds an interrupted replay with other options; run it again with the same options, or remove ${work} to start over`, { details: { path } });
    }
    if (!config.follow) return saved;
    // Following: the same starts, and the ends of now (partitions added since start at their beginning).
    const next = { fingerprint, ranges: await resolveScanRanges(config.client, config.topics, { from: 'offsets', offsets: offsetsByTopic(saved.ranges, 'start') }) };
    await writeAtomically(path, `${JSON.stringify(next, null, 2)}\n`);
    return next;
  }
  await rm(join(work, 'spill'), { recursive: true, force: true });
  await mkdir(join(work, 'spill'), { recursive: true });
  const state = { fingerprint, ranges: await resolveScanRanges(config.client, config.topics, config.start) };
  await writeAtomically(path, `${JSON.stringify(state, null, 2)}\n`);
  return state;
}

/** Reads what the spill does not cover yet into sorted spill files; returns the records read. */
async function readIntoSpill(config: ReplayConfig, ranges: readonly TopicPartitionRange[], resumeAt: ReadonlyMap<string, number>, spillDir: string, alreadyRead: number): Promise<number> {
  const todo = ranges.map((range) => ({ ...range, start: Math.max(range.start, resumeAt.get(partitionKey(range.topic, range.partition)) ?? range.start) }));
  const total = ranges.reduce((n, r) => n + r.end - r.start, 0);
  const spill = new SpillWriter(spillDir, config.spillBudgetBytes);
  for (const range of todo) spill.startPartition(range.topic, range.partition, range.start);
  const scan = await openTopicScan({ client: config.client, ranges: todo });
  let read = 0;
  let bytes = 0;
  try {
    for await (const batch of scan.batches()) {
      for (const record of batch) {
        read += 1;
        bytes += record.value?.length ?? 0;
        await spill.add(record.topic, record.partition, record.offset, await spillEntryOf(config.codec, record.value));
      }
      config.onProgress?.({ phase: 'read', done: alreadyRead + read, total, bytes });
    }
    await spill.flush();
  } finally {
    await spill.close();
    await scan.close();
  }
  return read;
}

/** The ranges grouped by topic, as the manifest lists them (topics by name, partitions ascending). */
function byTopic(ranges: readonly TopicPartitionRange[]): TopicRanges[] {
  const topics = new Map<string, TopicRanges>();
  for (const { topic, partition, start, end } of ranges) {
    let entry = topics.get(topic);
    if (entry === undefined) topics.set(topic, entry = { topic, partitions: [] });
    entry.partitions.push({ partition, start, end });
  }
  return [...topics.values()].sort((a, b) => (a.topic < b.topic ? -1 : 1)).map((t) => ({ ...t, partitions: t.partitions.sort((a, b) => a.partition - b.partition) }));
}

async function spillEntryOf(codec: AvroCodec, value: Buffer | null): Promise<{ runId: Buffer; producedAtMs: number; value: Buffer } | { skipped: string }> {
  if (value === null) return { skipped: 'tombstone (no value)' };
  let trace: ExecutionTrace;
  try {
    trace = await codec.decode(value, 'ExecutionTrace');
  } catch (error) {
    // A registry that cannot be reached is not the record's fault: stop, and resume later.
    if (!isTracestreamError(error, 'DECODE_FAILED')) throw error;
    return { skipped: `undecodable ExecutionTrace: ${describeError(error)}` };
  }
  return { runId: Buffer.from(trace.runId, 'utf8'), producedAtMs: trace.producedAtMs, value };
}

/** Merges the spill in run id order, keeps one trace per run, filters, and writes each split's shards. */
async function writeSplits(config: ReplayConfig, files: readonly string[], stagingDir: string, total: number) {
  const rowOf = async (trace: Buffer) => toDatasetRow(await config.codec.decode(trace, 'ExecutionTrace'));
  const writers = Object.fromEntries(SPLITS.map((split) => [split, new SplitWriter(stagingDir, split, ['parquet', ...config.formats], {
    shardBytes: config.shardBytes, rowGroupBytes: config.rowGroupBytes, rowGroupSteps: config.rowGroupSteps, rowGroupChanges: config.rowGroupChanges, zstdLevel: config.zstdLevel,
  }, rowOf)])) as Record<(typeof SPLITS)[number], SplitWriter>;
  const keep = rowFilter(config.filter);
  const stats = new DatasetStats();
  let duplicates = 0;
  let filteredOut = 0;
  let rows = 0;
  let bytes = 0;
  let seen = 0;
  try {
    for await (const entry of firstPerRunId(mergeSpills(files, stagingDir), () => { duplicates += 1; })) {
      seen += 1;
      // Filters, splits and counts read the summary; the row itself is built when its row group is
      // written. Only the summary's fields are decoded: the read phase decoded every trace in full.
      const summary = rowSummaryOf(await config.codec.decodeFields(entry.value, 'ExecutionTrace', ROW_SUMMARY_FIELDS));
      if (!keep(summary)) {
        filteredOut += 1;
      } else {
        const split = splitOf(summary.problem_id, config.splitRatios);
        await writers[split].add(entry.value, summary.step_count);
        stats.add(summary, split, readWireHeader(entry.value).schemaId);
        rows += 1;
        bytes += entry.value.length;
      }
      if (seen % 64 === 0) config.onProgress?.({ phase: 'write', done: seen + duplicates, total, bytes });
    }
    config.onProgress?.({ phase: 'write', done: seen + duplicates, total, bytes });
    const staged: StagedShard[] = [];
    for (const split of SPLITS) staged.push(...await writers[split].finish());
    return { staged, stats, duplicates, filteredOut, rows };
  } catch (error) {
    for (const split of SPLITS) writers[split].abandon();
    throw error;
  }
}

export interface FollowOptions {
  /** How long to wait between rounds when the last one found nothing new. */
  pollIntervalMs?: number;
  /** Stops following after the round in progress. */
  signal: AbortSignal;
  /** Called after every round that published a dataset. */
  onRound?: (result: ReplayResult) => void;
}

/**
 * `replayTopic` in rounds until `signal` aborts: each round reads what arrived since the last one
 * and publishes the dataset of everything read so far (the spill is kept between rounds; each
 * round merges all of it again). Stopped and started again with the same options, it goes on.
 */
export async function followTopic(options: ReplayOptions, follow: FollowOptions): Promise<ReplayResult | undefined> {
  let last: ReplayResult | undefined;
  while (!follow.signal.aborted) {
    const result = await replayTopic({ ...options, follow: true });
    if (last === undefined || result.recordsRead > 0) follow.onRound?.(result);
    last = result;
    if (result.recordsRead === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, follow.pollIntervalMs ?? 1000);
        follow.signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
      });
    }
  }
  return last;
}

export type { SkippedRecord };
