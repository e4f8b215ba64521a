import { TracestreamError } from '../errors/index.js';
import type { DatasetFilter } from './filters.js';
import { offsetsByTopic, type PartitionRange } from './scan.js';
import type { DatasetFormat } from './shards.js';
import type { SkippedRecord } from './spill-file.js';
import type { Split, SplitRatios } from './splits.js';

/** manifest.json: what a dataset covers and holds. It has no clock times, so equal inputs give equal bytes. */
export interface DatasetManifest {
  format: 'tracestream-dataset/2';
  /** The topics read, by name, each with its partitions' offset ranges. */
  topics: TopicRanges[];
  formats: DatasetFormat[];
  filter: DatasetFilter;
  splitRatios: SplitRatios;
  splitRule: string;
  dedupeRule: string;
  records: {
    /** Records in the offset ranges, over all topics. */
    read: number;
    /** Traces beyond the first of their run id. */
    duplicates: number;
    /** Runs the filters left out. */
    filteredOut: number;
    /** Records that are no trace (undecodable, tombstones); the first ones are listed in `skipped`. */
    skipped: number;
    /** Rows in the dataset. */
    written: number;
  };
  skipped: SkippedRecord[];
  counts: {
    splits: Record<Split, { runs: number; steps: number }>;
    outcomes: Record<string, number>;
    outcomesBySplit: Record<Split, Record<string, number>>;
    tracerVersions: Record<string, number>;
    pythonVersions: Record<string, number>;
    limits: Record<string, number>;
    topOriginRepos: [string, number][];
    /** Writer schema ids of the traces kept, with their counts. */
    schemaIds: Record<string, number>;
  };
  files: DatasetFile[];
}

export interface TopicRanges {
  topic: string;
  /** Per partition, the offsets read: `start` up to `end`, exclusive. `end` is where a later replay continues (`--from-offsets`). */
  partitions: PartitionRange[];
}

export interface DatasetFile {
  /** Relative to the dataset directory. */
  path: string;
  split: Split;
  format: DatasetFormat;
  rows: number;
  /** Executed steps of its runs (`step_count`). */
  steps: number;
  bytes: number;
  sha256: string;
}

export const DEDUPE_RULE =
  'of the traces with the same run id the one with the latest producedAtMs is kept (a re-run after a crash is newer); '
  + 'equal times are decided by the larger record bytes. The rule reads only the records themselves, never partitions, offsets or arrival order.';

export const SPLIT_RULE =
  'the first 8 bytes of SHA-256 of the problem id, as a fraction of 2^64, fall in train, validation or test by the ratios, so no problem is in two splits.';

/** The most skipped records listed by name in the manifest; the count covers them all. */
export const MAX_LISTED_SKIPPED = 100;

/**
 * Where a replay that continues after the dataset of `manifest` starts: its end offsets, by topic and
 * partition. A manifest from before several topics could be replayed together (format 1: one
 * `topic` and its `partitions`) is read too.
 */
export function endOffsetsOf(manifest: unknown, name = 'the manifest'): Record<string, Record<string, number>> {
  const m = manifest as Partial<DatasetManifest> & { topic?: unknown; partitions?: unknown };
  const topics = Array.isArray(m.topics) ? m.topics
    : typeof m.topic === 'string' && Array.isArray(m.partitions) ? [{ topic: m.topic, partitions: m.partitions as PartitionRange[] }]
      : undefined;
  if (topics === undefined) {
    throw new TracestreamError('CONFIG_INVALID', `${name} is not a dataset manifest: it lists no topics with their partitions' offsets`);
  }
  return offsetsByTopic(topics.flatMap(({ topic, partitions }) => partitions.map((range) => ({ topic, ...range }))), 'end');
}
