import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { TracestreamError } from '../../errors/index.js';
import { endOffsetsOf, followTopic, replayTopic, type DatasetFilter, type DatasetManifest, type ReplayOptions, type ReplayProgress } from '../../dataset/index.js';
import { DEFAULT_TRACE_TOPICS } from '../../pipeline/index.js';
import { exitWith } from '../command.js';
import { CLUSTER_SETTINGS, connect, settingsOf, withSettings } from '../options.js';
import { Progress } from '../progress.js';

interface ReplayFlags {
  out: string;
  topic: string;
  from: string;
  fromOffsets?: string;
  follow: boolean;
  format?: string;
  splitRatios?: string;
  outcome?: string;
  problem?: string;
  tracerVersion?: string;
  truncated?: string;
  maxSteps?: string;
  zstdLevel?: string;
  spillBudgetBytes?: string;
  rowGroupBytes?: string;
  rowGroupSteps?: string;
  rowGroupChanges?: string;
}

export function replayCommand(): Command {
  const command = new Command('replay')
    .summary('Rebuild the dataset of trace topics: Parquet shards per split, dataset card, manifest')
    .description([
      'Reads the topics (of --brokers / KAFKA_BROKERS) from the start asked for up to the end offsets of the',
      'moment it starts, joining no consumer group, and writes one dataset of them all (one row per run id) to',
      'DIR/data/{train,validation,test}-NNNNN-of-MMMMM.parquet,',
      'DIR/README.md (dataset card) and DIR/manifest.json. Killed and started again with the same flags it resumes.',
    ].join(' '))
    .requiredOption('--out <dir>', 'the dataset directory')
    .option('--topic <topics>', 'trace topics to read into one dataset (comma-separated)', DEFAULT_TRACE_TOPICS.traces)
    .option('--from <start>', 'beginning, an ISO time, or milliseconds since the epoch', 'beginning')
    .option('--from-offsets <manifest>', 'continue after an earlier dataset: start at its manifest.json end offsets (per topic)')
    .option('--follow', 'keep reading and republish the dataset as traces arrive, until SIGINT/SIGTERM', false)
    .option('--format <formats>', 'also write these beside the Parquet shards: jsonl, compact (comma-separated)')
    .option('--split-ratios <train,validation,test>', 'shares of problems per split (default 0.8,0.1,0.1)')
    .option('--outcome <outcomes>', 'keep runs with these outcomes (comma-separated: ok, error, step-limit, ...)')
    .option('--problem <ids>', 'keep runs of these problems (comma-separated)')
    .option('--tracer-version <versions>', 'keep runs traced by these tracer versions (comma-separated)')
    .option('--truncated <bool>', 'true: only cut traces; false: only whole ones')
    .option('--max-steps <n>', 'keep runs with at most this many executed steps')
    .option('--zstd-level <n>', 'zstd level of every file (1-22, default 9)')
    .option('--spill-budget-bytes <n>', 'trace bytes staged on disk, and indexed in memory, before they are sorted into a run (default 64 MiB)')
    .option('--row-group-bytes <n>', 'trace bytes per Parquet row group at most, what each split holds while writing (default 8 MiB; smaller: less memory, larger files)')
    .option('--row-group-steps <n>', 'executed steps per Parquet row group at most (default 200000)')
    .option('--row-group-changes <n>', 'variable changes per Parquet row group at most (default 150000)');
  withSettings(command, CLUSTER_SETTINGS);
  return command.action(exitWith(async (flags: ReplayFlags) => {
    const connection = await connect(settingsOf(command));
    const bars = replayProgressBars();
    try {
      const options: ReplayOptions = {
        client: connection.client,
        codec: connection.codec,
        topics: list(flags.topic),
        outDir: flags.out,
        start: await startOf(flags),
        formats: list(flags.format) as ReplayOptions['formats'],
        filter: filterOf(flags),
        onProgress: bars.update,
        ...(flags.splitRatios === undefined ? {} : { splitRatios: ratiosOf(flags.splitRatios) }),
        ...(flags.zstdLevel === undefined ? {} : { zstdLevel: number(flags.zstdLevel, 'zstd-level') }),
        ...(flags.spillBudgetBytes === undefined ? {} : { spillBudgetBytes: number(flags.spillBudgetBytes, 'spill-budget-bytes') }),
        ...(flags.rowGroupBytes === undefined ? {} : { rowGroupBytes: number(flags.rowGroupBytes, 'row-group-bytes') }),
        ...(flags.rowGroupSteps === undefined ? {} : { rowGroupSteps: number(flags.rowGroupSteps, 'row-group-steps') }),
        ...(flags.rowGroupChanges === undefined ? {} : { rowGroupChanges: number(flags.rowGroupChanges, 'row-group-changes') }),
      };
      if (flags.follow) {
        const stop = new AbortController();
        const abort = (): void => stop.abort();
        process.once('SIGINT', abort).once('SIGTERM', abort);
        await followTopic(options, { signal: stop.signal, onRound: ({ manifest }) => { bars.finish(); process.stdout.write(replaySummary(flags.out, manifest)); } });
      } else {
        const { manifest } = await replayTopic(options);
        bars.finish();
        process.stdout.write(replaySummary(flags.out, manifest));
      }
    } finally {
      await connection.close();
    }
    return 0;
  }));
}

export function replayProgressBars(): { update: (progress: ReplayProgress) => void; finish: () => void } {
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

export function replaySummary(out: string, manifest: DatasetManifest): string {
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

async function startOf(flags: ReplayFlags): Promise<NonNullable<ReplayOptions['start']>> {
  if (flags.fromOffsets !== undefined) {
    return { from: 'offsets', offsets: endOffsetsOf(JSON.parse(await readFile(flags.fromOffsets, 'utf8')), flags.fromOffsets) };
  }
  if (flags.from === 'beginning') return { from: 'beginning' };
  const timestampMs = /^\d+$/.test(flags.from) ? Number(flags.from) : Date.parse(flags.from);
  if (!Number.isFinite(timestampMs)) throw new TracestreamError('CONFIG_INVALID', `--from takes beginning, an ISO time or milliseconds since the epoch, not ${JSON.stringify(flags.from)}`);
  return { from: 'timestamp', timestampMs };
}

function filterOf(flags: ReplayFlags): DatasetFilter {
  const filter: DatasetFilter = {};
  const outcomes = list(flags.outcome);
  if (outcomes.length > 0) filter.outcomes = outcomes.map((o) => o.replace(/_/g, '-')) as DatasetFilter['outcomes'];
  const problems = list(flags.problem);
  if (problems.length > 0) filter.problems = problems;
  const tracers = list(flags.tracerVersion);
  if (tracers.length > 0) filter.tracerVersions = tracers;
  if (flags.truncated !== undefined) {
    if (flags.truncated !== 'true' && flags.truncated !== 'false') throw new TracestreamError('CONFIG_INVALID', '--truncated takes true or false');
    filter.truncated = flags.truncated === 'true';
  }
  if (flags.maxSteps !== undefined) filter.maxSteps = number(flags.maxSteps, 'max-steps');
  return filter;
}

function ratiosOf(text: string): { train: number; validation: number; test: number } {
  const parts = list(text).map(Number);
  if (parts.length !== 3) throw new TracestreamError('CONFIG_INVALID', '--split-ratios takes three numbers: train,validation,test');
  return { train: parts[0]!, validation: parts[1]!, test: parts[2]! };
}

function list(text: string | undefined): string[] {
  return (text ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function number(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isFinite(value)) throw new TracestreamError('CONFIG_INVALID', `--${flag} takes a number, not ${JSON.stringify(text)}`);
  return value;
}
