import { writeFile } from 'node:fs/promises';
import { startTrainTopology } from '../../../topologies/train.js';
import { readSettings } from '../../config/settings.js';
import { TracestreamError } from '../../errors/index.js';
import { installShutdown } from '../../kafka/index.js';
import { BACKENDS, parseBackendName, plotTrainingCurves, readMetricsHistory, type TrainerOptions } from '../../model/index.js';
import { parseArgs, requireString } from '../args.js';
import type { Command } from '../command.js';
import { connect } from '../connect.js';
import type { Flags } from '../../config/settings.js';

const USAGE = [
  'tracestream train --checkpoint DIR [--max-tokens N] [--backend auto|tensorflow-gpu|tensorflow|wasm|cpu]',
  '                  [--layers N] [--width N] [--heads N] [--context N] [--batch N] [--activation relu|gelu]',
  '                  [--learning-rate X] [--schedule cosine|constant] [--warmup-steps N] [--decay-steps N]',
  '                  [--checkpoint-every-tokens N] [--checkpoint-every-ms N] [--eval-runs N] [--eval-records N]',
  'tracestream train plot DIR --out FILE.svg',
  '',
  'Trains a GPT-style model on the compact traces of `traces` (KAFKA_BROKERS), continuously: training',
  'problems are trained on, held-out ones (splitOf) evaluated at every checkpoint. DIR holds the',
  'checkpoints; started again on the same DIR it resumes at the offsets saved there. With --max-tokens',
  'it trains that many more tokens, writes a checkpoint and exits 0; without, it runs until SIGTERM',
  '(final checkpoint, exit 0). The model shape flags apply to a new model only.',
  '`train plot` draws the loss and accuracy curves of DIR/metrics.jsonl as SVG.',
].join('\n');

export const trainCommand: Command = {
  name: 'train',
  summary: 'Fine-tune a language model on traces, continuously (train plot: its curves as SVG)',
  usage: USAGE,
  async run(argv) {
    const { positionals, flags } = parseArgs(argv);
    if (positionals[0] === 'plot') return plot(positionals.slice(1), flags);
    if (positionals.length > 0) throw new TracestreamError('CONFIG_INVALID', `train takes no positional arguments (plot DIR draws curves); usage:\n${USAGE}`);
    const settings = readSettings(flags);
    const maxTokens = optionalInt(flags, 'max-tokens');
    const backend = typeof flags['backend'] === 'string' && flags['backend'] !== 'auto' ? [parseBackendName(flags['backend'])] : BACKENDS;
    const shutdown = installShutdown({ deadlineMs: Math.max(settings.shutdownDeadlineMs, 60_000) });
    const connection = await connect(settings);
    shutdown.register('registry and brokers', () => connection.close());
    const topology = await startTrainTopology({
      client: connection.client,
      registry: connection.registry,
      embedded: connection.brokers.embedded,
      trainer: trainerOptionsFrom(flags),
      backends: backend,
      ...(maxTokens === undefined ? {} : { maxTokens }),
      log: (line) => process.stderr.write(`tracestream train: ${line}\n`),
    });
    shutdown.register('trainer (final checkpoint)', () => topology.close());
    await topology.done;
    shutdown.dispose();
    await connection.close();
    return 0;
  },
};

function trainerOptionsFrom(flags: Flags): TrainerOptions {
  const int = (name: string): number | undefined => optionalInt(flags, name);
  const num = (name: string): number | undefined => {
    const raw = flags[name];
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (typeof raw !== 'string' || !Number.isFinite(value)) throw new TracestreamError('CONFIG_INVALID', `--${name} needs a number, got ${JSON.stringify(raw)}`);
    return value;
  };
  const str = (name: string): string | undefined => (typeof flags[name] === 'string' ? flags[name] : undefined);
  const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  return defined({
    checkpointDir: requireString(flags, 'checkpoint'),
    model: defined({ layers: int('layers'), width: int('width'), heads: int('heads'), contextTokens: int('context'), activation: str('activation') as 'relu' | 'gelu' | undefined }),
    optimizer: defined({ peakLearningRate: num('learning-rate'), schedule: str('schedule') as 'cosine' | 'constant' | undefined, warmupSteps: int('warmup-steps'), decaySteps: int('decay-steps') }),
    batchRows: int('batch'),
    checkpointEveryTokens: int('checkpoint-every-tokens'),
    checkpointEveryMs: int('checkpoint-every-ms'),
    maxEvaluationRuns: int('eval-runs'),
    evaluation: defined({ maxRecords: int('eval-records') }),
  });
}

function optionalInt(flags: Flags, name: string): number | undefined {
  const raw = flags[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (typeof raw !== 'string' || !Number.isSafeInteger(value) || value < 0) {
    throw new TracestreamError('CONFIG_INVALID', `--${name} needs a whole number, got ${JSON.stringify(raw)}`);
  }
  return value;
}

async function plot(positionals: readonly string[], flags: Flags): Promise<number> {
  const [dir, ...extra] = positionals;
  if (dir === undefined || extra.length > 0) throw new TracestreamError('CONFIG_INVALID', 'usage: tracestream train plot DIR --out FILE.svg');
  const out = requireString(flags, 'out');
  const history = await readMetricsHistory(dir);
  await writeFile(out, plotTrainingCurves(history, `tracestream training (${dir})`));
  process.stderr.write(`tracestream train plot: ${history.length} evaluations drawn to ${out}\n`);
  return 0;
}
