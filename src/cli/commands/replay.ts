import { readFile } from 'node:fs/promises';
import { readSettings, type Flags } from '../../config/settings.js';
import { TracestreamError } from '../../errors/index.js';
import { followTopic, replayTopic, type DatasetFilter, type DatasetManifest, type ReplayOptions, type ReplayProgress } from '../../dataset/index.js';
import { DEFAULT_TRACE_TOPICS, Progress } from '../../topology/index.js';
import { parseArgs } from '../args.js';
import type { Command } from '../command.js';
import { connect } from '../connect.js';

export const replayCommand: Command = {
  name: 'replay',
  summary: 'Rebuild the dataset of a trace topic: Parquet shards per split, dataset card, manifest',
  usage: [
    'tracestream replay --out DIR [--topic traces] [--from beginning|<ISO time>|<ms>] [--from-offsets MANIFEST.json]',
    '                   [--follow] [--format jsonl,compact] [--split-ratios 0.8,0.1,0.1]',
    '                   [--outcome ok,error] [--problem P,Q] [--tracer-version V] [--truncated true|false] [--max-steps N]',
    '',
    'Reads the topic (of --brokers / KAFKA_BROKERS) from the start asked for up to the end offsets of the',
    'moment it starts, joining no consumer group, and writes DIR/data/{train,validation,test}-NNNNN-of-MMMMM.parquet,',
    'DIR/README.md (dataset card) and DIR/manifest.json. --from-offsets continues after an earlier dataset',
    '(its manifest\'s end offsets). Killed and started again with the same flags it resumes. --follow goes on',
    'reading and republishes the dataset as traces arrive, until SIGINT/SIGTERM.',
  ].join('\n'),
  async run(argv) {
    const { positionals, flags } = parseArgs(argv, new Set(['follow']));
    const out = flags['out'];
    if (positionals.length > 0 || typeof out !== 'string') throw new TracestreamError('CONFIG_INVALID', `usage: ${replayCommand.usage.split('\n')[0]}`);
    const connection = await connect(readSettings(flags));
    const bars = progressBars();
    try {
      const options: ReplayOptions = {
        client: connection.client,
        codec: connection.codec,
        topic: stringFlag(flags, 'topic') ?? DEFAULT_TRACE_TOPICS.traces,
        outDir: out,
        start: await startOf(flags),
        formats: listFlag(flags, 'format') as ReplayOptions['formats'],
        filter: filterOf(flags),
        onProgress: bars.update,
        ...(flags['split-ratios'] === undefined ? {} : { splitRatios: ratiosOf(flags) }),
        ...(flags['zstd-level'] === undefined ? {} : { zstdLevel: numberFlag(flags, 'zstd-level') }),
      };
      if (flags['follow'] === true) {
        const stop = new AbortController();
        const abort = (): void => stop.abort();
        process.once('SIGINT', abort).once('SIGTERM', abort);
        await followTopic(options, { signal: stop.signal, onRound: ({ manifest }) => { bars.finish(); process.stdout.write(summary(out, manifest)); } });
      } else {
        const { manifest } = await replayTopic(options);
        bars.finish();
        process.stdout.write(summary(out, manifest));
      }
    } finally {
      await connection.close();
    }
    return 0;
  },
};

function progressBars(): { update: (progress: ReplayProgress) => void; finish: () => void } {
  let bar: Progress | undefined;
  let phase: ReplayProgress['phase'] | undefined;
  return {
    update(progress) {
      if (progress.phase !== phase) {
        bar?.finish();
        phase = progress.phase;
        bar = new Progress(phase === 'read' ? 'reading' : 'writing', progress.total, process.stderr, phase === 'read' ? ' records' : ' runs');
      }
      bar!.update(progress.done, progress.bytes, progress.total);
    },
    finish() {
      bar?.finish();
      bar = undefined;
      phase = undefined;
    },
  };
}

function summary(out: string, manifest: DatasetManifest): string {
  const { splits, outcomes } = manifest.counts;
  const bytes = manifest.files.reduce((n, f) => n + f.bytes, 0);
  return [
    `wrote ${manifest.records.written} runs to ${out} (${manifest.files.length} files, ${(bytes / 1e6).toFixed(1)} MB)`,
    `  splits: train ${splits.train.runs}, validation ${splits.validation.runs}, test ${splits.test.runs}`,
    `  outcomes: ${Object.entries(outcomes).map(([o, n]) => `${o} ${n}`).join(', ') || 'none'}`,
    `  records read ${manifest.records.read}, duplicates dropped ${manifest.records.duplicates}, filtered out ${manifest.records.filteredOut}, skipped ${manifest.records.skipped}`,
    '',
  ].join('\n');
}

async function startOf(flags: Flags): Promise<NonNullable<ReplayOptions['start']>> {
  const manifestPath = stringFlag(flags, 'from-offsets');
  if (manifestPath !== undefined) {
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Pick<DatasetManifest, 'partitions'>;
    return { from: 'offsets', offsets: Object.fromEntries(manifest.partitions.map((p) => [String(p.partition), p.end])) };
  }
  const from = stringFlag(flags, 'from') ?? 'beginning';
  if (from === 'beginning') return { from: 'beginning' };
  const timestampMs = /^\d+$/.test(from) ? Number(from) : Date.parse(from);
  if (!Number.isFinite(timestampMs)) throw new TracestreamError('CONFIG_INVALID', `--from takes beginning, an ISO time or milliseconds since the epoch, not ${JSON.stringify(from)}`);
  return { from: 'timestamp', timestampMs };
}

function filterOf(flags: Flags): DatasetFilter {
  const filter: DatasetFilter = {};
  const outcomes = listFlag(flags, 'outcome');
  if (outcomes.length > 0) filter.outcomes = outcomes.map((o) => o.replace(/_/g, '-')) as DatasetFilter['outcomes'];
  const problems = listFlag(flags, 'problem');
  if (problems.length > 0) filter.problems = problems;
  const tracers = listFlag(flags, 'tracer-version');
  if (tracers.length > 0) filter.tracerVersions = tracers;
  const truncated = stringFlag(flags, 'truncated');
  if (truncated !== undefined) {
    if (truncated !== 'true' && truncated !== 'false') throw new TracestreamError('CONFIG_INVALID', '--truncated takes true or false');
    filter.truncated = truncated === 'true';
  }
  if (flags['max-steps'] !== undefined) filter.maxSteps = numberFlag(flags, 'max-steps');
  return filter;
}

function ratiosOf(flags: Flags): { train: number; validation: number; test: number } {
  const parts = listFlag(flags, 'split-ratios').map(Number);
  if (parts.length !== 3) throw new TracestreamError('CONFIG_INVALID', '--split-ratios takes three numbers: train,validation,test');
  return { train: parts[0]!, validation: parts[1]!, test: parts[2]! };
}

function stringFlag(flags: Flags, name: string): string | undefined {
  const value = flags[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new TracestreamError('CONFIG_INVALID', `--${name} needs a value`);
  return value;
}

function listFlag(flags: Flags, name: string): string[] {
  return (stringFlag(flags, name) ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function numberFlag(flags: Flags, name: string): number {
  const value = Number(stringFlag(flags, name));
  if (!Number.isFinite(value)) throw new TracestreamError('CONFIG_INVALID', `--${name} takes a number`);
  return value;
}
