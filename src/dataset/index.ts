/**
 * Datasets of ran code: `replayTopic` rebuilds one from trace topics (Parquet shards per split,
 * optional JSON lines and compact text, a dataset card and a manifest), and `splitOf` is the one
 * rule that assigns a problem to train, validation or test.
 */
export { replayTopic, followTopic, replayOptionsSchema, DEFAULT_ROW_GROUP_BYTES, DEFAULT_ROW_GROUP_STEPS, DEFAULT_ROW_GROUP_CHANGES, type ReplayOptions, type ReplayProgress, type ReplayResult, type FollowOptions } from './replay.js';
export { DATASET_COLUMNS, huggingFaceFeatures, type Column, type ColumnType } from './columns.js';
export { toDatasetRow, type DatasetRow, type DatasetStep, type DatasetChange, type DatasetException, type DatasetLimits } from './row.js';
export { datasetFilterSchema, rowFilter, type DatasetFilter } from './filters.js';
export { DEDUPE_RULE, SPLIT_RULE, endOffsetsOf, type DatasetManifest, type DatasetFile, type TopicRanges } from './manifest.js';
export { FORMAT_EXTENSIONS, type DatasetFormat } from './shards.js';
export { endOffsetsNow, resolveScanRanges, type ScanStart, type PartitionRange, type TopicPartitionRange } from './scan.js';
export { splitOf, splitPointOf, validateSplitRatios, SPLITS, DEFAULT_SPLIT_RATIOS, type Split, type SplitRatios } from './splits.js';
