import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { startTrainTopology, type RunningTrainTopology } from '../../../topologies/train.js';
import { TracestreamError } from '../../errors/index.js';
import { installShutdown } from '../../lifecycle/index.js';
import { BACKENDS, parseBackendName, plotTrainingCurves, readMetricsHistory, type TrainerOptions } from '../../model/index.js';
import { createMetricsRegistry, topologyMetrics } from '../../telemetry/index.js';
import { exitWith } from '../command.js';
import { CLUSTER_SETTINGS, TELEMETRY_SETTINGS, connect, settingsOf, withSettings } from '../options.js';
import { serveTelemetry } from '../telemetry.js';

interface TrainFlags {
  checkpoint?: string;
  maxTokens?: number;
  backend: string;
  layers?: number;
  width?: number;
  heads?: number;
  context?: number;
  activation?: 'relu' | 'gelu';
  positions?: 'learned' | 'alibi';
  batch?: number;
  learningRate?: number;
  schedule?: 'cosine' | 'constant';
  warmupSteps?: number;
  decaySteps?: number;
  checkpointEveryTokens?: number;
  checkpointEveryMs?: number;
  evalRuns?: number;
  evalRecords?: number;
}

const whole = (value: string): number => {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`expected a whole number, got ${JSON.stringify(value)}`);
  return n;
};
const real = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`expected a number, got ${JSON.stringify(value)}`);
  return n;
};

export function trainCommand(): Command {
  const command = new Command('train')
    .summary('Fine-tune a language model on traces, continuously (train plot: its curves as SVG)')
    .description([
      'Trains a GPT-style model on the compact traces of `traces`, continuously: runs of training problems',
      'are trained on, held-out ones (splitOf) evaluated at every checkpoint (ModelMetrics to `model-metrics`).',
      'DIR holds the checkpoints; started again on the same DIR it resumes at the offsets saved there.',
      'With --max-tokens it trains that many more tokens, writes a checkpoint and exits 0; without, it runs',
      'until SIGTERM (final checkpoint, exit 0). Shape flags apply to a new model only. With --telemetry-port it',
      'serves /healthz, /readyz (ready once a broker is up and the partitions of `traces` are assigned) and /metrics',
      '(tokens trained, step loss, checkpoints written, train lag, records in, dead letters) on that port.',
    ].join(' '))
    // Not a commander requiredOption: commander would then ask `train plot` for it too.
    .option('--checkpoint <dir>', 'folder of the checkpoints and the metrics history (required)')
    .option('--max-tokens <n>', 'train this many tokens, checkpoint, exit', whole)
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend (auto: the fastest that loads)').choices(['auto', ...BACKENDS]).default('auto'))
    .option('--layers <n>', 'transformer blocks (default 4)', whole)
    .option('--width <n>', 'residual width d_model (default 256)', whole)
    .option('--heads <n>', 'attention heads (default 4)', whole)
    .option('--context <n>', 'context length in tokens (default 256)', whole)
    .addOption(new Option('--activation <name>', 'MLP non-linearity (default relu, fused)').choices(['relu', 'gelu']))
    .addOption(new Option('--positions <kind>', 'position encoding: ALiBi distance biases or a learned table (default alibi)').choices(['alibi', 'learned']))
    .option('--batch <n>', 'sequences per step (default 8)', whole)
    .option('--learning-rate <x>', 'peak learning rate (default 1e-3)', real)
    .addOption(new Option('--schedule <name>', 'after warm-up (default cosine)').choices(['cosine', 'constant']))
    .option('--warmup-steps <n>', 'linear warm-up steps (default 100)', whole)
    .option('--decay-steps <n>', 'cosine decay steps (default 20000)', whole)
    .option('--checkpoint-every-tokens <n>', 'token budget per checkpoint (default 1000000)', whole)
    .option('--checkpoint-every-ms <n>', 'time budget per checkpoint (default 300000)', whole)
    .option('--eval-runs <n>', 'held-out runs kept for evaluation (default 48)', whole)
    .option('--eval-records <n>', 'trace records predicted per evaluation (default 256)', whole);
  withSettings(command, [...CLUSTER_SETTINGS, ...TELEMETRY_SETTINGS, 'shutdownDeadlineMs']);
  command.addCommand(plotCommand());
  return command.action(exitWith(async (flags: TrainFlags) => {
    if (flags.checkpoint === undefined) throw new TracestreamError('CONFIG_INVALID', 'train needs --checkpoint DIR (where checkpoints are written and resumed from)');
    const checkpointDir = flags.checkpoint;
    const settings = settingsOf(command);
    // A final checkpoint and evaluation can take longer than a consumer's drain.
    const shutdown = installShutdown({ deadlineMs: Math.max(settings.shutdownDeadlineMs, 120_000) });
    // Up before the backend and checkpoint load (minutes with CUDA), so the startup probe sees a live process.
    const registry = createMetricsRegistry();
    let topology: RunningTrainTopology | undefined;
    const telemetry = await serveTelemetry(settings, shutdown, registry, () => topology?.readiness() ?? { ready: false, reason: 'loading the backend and checkpoint, connecting to the brokers' });
    // A failed start must not leave the telemetry server holding the process open.
    try {
      const connection = await connect(settings);
      shutdown.register('registry and brokers', () => connection.close());
      const running = await startTrainTopology({
        client: connection.client,
        registry: connection.registry,
        embedded: connection.brokers.embedded,
        trainer: trainerOptionsFrom(flags, checkpointDir),
        backends: flags.backend === 'auto' ? BACKENDS : [parseBackendName(flags.backend)],
        prometheus: registry,
        metrics: topologyMetrics(registry),
        ...(flags.maxTokens === undefined ? {} : { maxTokens: flags.maxTokens }),
        log: (line) => process.stderr.write(`tracestream train: ${line}\n`),
      });
      topology = running;
      shutdown.register('trainer (final checkpoint)', () => running.close());
      await running.done;
      shutdown.dispose();
      await connection.close();
      return 0;
    } finally {
      await telemetry?.close();
    }
  }));
}

function trainerOptionsFrom(f: TrainFlags, checkpointDir: string): TrainerOptions {
  const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  return defined({
    checkpointDir,
    model: defined({ layers: f.layers, width: f.width, heads: f.heads, contextTokens: f.context, activation: f.activation, positions: f.positions }),
    optimizer: defined({ peakLearningRate: f.learningRate, schedule: f.schedule, warmupSteps: f.warmupSteps, decaySteps: f.decaySteps }),
    batchRows: f.batch,
    checkpointEveryTokens: f.checkpointEveryTokens,
    checkpointEveryMs: f.checkpointEveryMs,
    maxEvaluationRuns: f.evalRuns,
    evaluation: defined({ maxRecords: f.evalRecords }),
  });
}

function plotCommand(): Command {
  return new Command('plot')
    .summary('Draw the loss and accuracy curves of a checkpoint folder as SVG')
    .argument('<dir>', 'checkpoint folder (its metrics.jsonl)')
    .requiredOption('--out <file>', 'SVG file to write')
    .action(exitWith(async (dir: string, flags: { out: string }) => {
      const history = await readMetricsHistory(dir);
      await writeFile(flags.out, plotTrainingCurves(history, `tracestream training (${dir})`));
      process.stderr.write(`tracestream train plot: ${history.length} evaluations drawn to ${flags.out}\n`);
      return 0;
    }));
}
