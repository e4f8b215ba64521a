import { DATASET_COLUMNS, huggingFaceFeatures, type Column } from './columns.js';
import type { DatasetManifest } from './manifest.js';
import { FORMAT_EXTENSIONS } from './shards.js';
import { SPLITS } from './splits.js';

/**
 * The dataset card (README.md): YAML front matter the Hugging Face Hub and `datasets` read (configs
 * pointing at the files, splits, features), then a description for people: counts, how the traces
 * were made, where the programs came from, and how the dataset was built from the topics.
 */
export function renderDatasetCard(manifest: DatasetManifest): string {
  const splits = SPLITS.filter((split) => manifest.counts.splits[split].runs > 0);
  const configs = [{ config_name: 'default', data_files: splits.map((split) => ({ split, path: `data/${split}-*.parquet` })) }];
  for (const format of manifest.formats) {
    if (format !== 'jsonl') continue; // compact shards are text for language models, not a table
    configs.push({ config_name: 'jsonl', data_files: splits.map((split) => ({ split, path: `data/${split}-*.${FORMAT_EXTENSIONS.jsonl}` })) });
  }
  const front = {
    pretty_name: 'Traced Python runs (tracestream)',
    tags: ['code', 'python', 'program-execution', 'traces'],
    configs,
    dataset_info: {
      features: huggingFaceFeatures(),
      splits: splits.map((split) => ({ name: split, num_examples: manifest.counts.splits[split].runs })),
    },
  };
  const c = manifest.counts;
  const lines = [
    '---',
    toYaml(front).trimEnd(),
    '---',
    '',
    '# Traced Python runs',
    '',
    'Each row is one run of a Python program on one input under tracestream\'s line tracer: the program,',
    'its input, how it ended, and every executed step with the variables it changed, as a nested column',
    '(`steps`) and as compact text (`compact`, see tracestream\'s docs/compact-format.md) for language-model',
    'training.',
    '',
    '## Counts',
    '',
    '| split | runs | executed steps |',
    '|---|---:|---:|',
    ...SPLITS.map((split) => `| ${split} | ${c.splits[split].runs} | ${c.splits[split].steps} |`),
    '',
    '| outcome | runs |',
    '|---|---:|',
    ...Object.entries(c.outcomes).map(([outcome, runs]) => `| ${outcome} | ${runs} |`),
    '',
    '## How the traces were made',
    '',
    `- Tracer versions: ${describeCounts(c.tracerVersions)}.`,
    `- Python: ${describeCounts(c.pythonVersions)}.`,
    '- Limits per run (each set with its number of runs):',
    ...Object.entries(c.limits).map(([limits, runs]) => `  - ${runs} runs: \`${limits}\``),
    '',
    '## Where the programs came from',
    '',
    'Each row\'s `origin` column says where its program came from. Repositories with the most runs:',
    '',
    ...c.topOriginRepos.map(([repo, runs]) => `- ${repo}: ${runs} runs`),
    '',
    '## How this dataset was built',
    '',
    `Replayed from the Kafka ${manifest.topics.length === 1 ? 'topic' : 'topics'} ${manifest.topics.map((t) => `\`${t.topic}\``).join(', ')} (partitions and offsets in`,
    'manifest.json, with a SHA-256 per file) by `tracestream replay`. The same records give the same data files,',
    'whichever topics and partitions held them.',
    `- One row per run id: ${manifest.dedupeRule}`,
    `- Splits by problem: ${manifest.splitRule} Ratios: train ${manifest.splitRatios.train}, validation ${manifest.splitRatios.validation}, test ${manifest.splitRatios.test}.`,
    `- Filters: ${Object.keys(manifest.filter).length === 0 ? 'none' : `\`${JSON.stringify(manifest.filter)}\``}.`,
    `- Records read: ${manifest.records.read}; duplicates dropped: ${manifest.records.duplicates}; filtered out: ${manifest.records.filteredOut}; skipped (undecodable or tombstones, listed in manifest.json): ${manifest.records.skipped}.`,
    '',
    '## Columns',
    '',
    ...describeColumns(DATASET_COLUMNS, ''),
    '',
  ];
  return lines.join('\n');
}

function describeCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  return entries.length === 0 ? 'none' : entries.map(([value, runs]) => `${value} (${runs} runs)`).join(', ');
}

function describeColumns(columns: readonly Column[], indent: string): string[] {
  const out: string[] = [];
  for (const column of columns) {
    out.push(`${indent}- \`${column.name}\`: ${column.doc}`);
    const inner = column.type.kind === 'list' ? column.type.element : column.type;
    if (inner.kind === 'struct') out.push(...describeColumns(inner.fields, `${indent}  `));
  }
  return out;
}

/**
 * Block-style YAML for plain data (objects, arrays, strings, numbers, booleans). Strings are written
 * as JSON strings, which YAML reads as double-quoted scalars, so no value needs YAML's own escaping.
 */
function toYaml(value: unknown, indent = ''): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]\n';
    return value.map((item) => {
      const rendered = toYaml(item, `${indent}  `);
      return isScalar(item) ? `${indent}- ${rendered}` : `${indent}- ${rendered.slice(indent.length + 2)}`;
    }).join('');
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}\n';
    return entries.map(([key, item]) => {
      if (isScalar(item) || (Array.isArray(item) && item.length === 0)) return `${indent}${key}: ${toYaml(item, indent)}`;
      return `${indent}${key}:\n${toYaml(item, Array.isArray(item) ? indent : `${indent}  `)}`;
    }).join('');
  }
  return `${typeof value === 'string' ? JSON.stringify(value) : String(value)}\n`;
}

function isScalar(value: unknown): boolean {
  return typeof value !== 'object' || value === null;
}
