import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Counter, Gauge, register as defaultRegistry, type Registry } from 'prom-client';
import type { ModelMetrics } from '../avro/index.js';
import { TracestreamError } from '../errors/index.js';

/** The history of evaluations a trainer appends to in its checkpoint folder (what `train plot` draws). */
const METRICS_HISTORY_FILE = 'metrics.jsonl';

export async function appendMetricsHistory(checkpointDir: string, metrics: ModelMetrics): Promise<void> {
  await appendFile(join(checkpointDir, METRICS_HISTORY_FILE), `${JSON.stringify(metrics)}\n`);
}

export async function readMetricsHistory(checkpointDir: string): Promise<ModelMetrics[]> {
  const path = join(checkpointDir, METRICS_HISTORY_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new TracestreamError('INPUT_INVALID', `${path}: cannot read the metrics history (${(error as NodeJS.ErrnoException).code ?? String(error)}); has a trainer evaluated into this folder yet?`, { cause: error });
  }
  // A line cut by a crash mid-append is skipped rather than failing the whole plot.
  return text.split('\n').filter((l) => l.trim() !== '').flatMap((line) => {
    try {
      return [JSON.parse(line) as ModelMetrics];
    } catch {
      return [];
    }
  });
}

const GAUGES = {
  steps: ['tracestream_model_steps', 'Optimizer steps taken'],
  tokensTrained: ['tracestream_model_tokens_trained', 'Tokens trained on'],
  tokensPerSecond: ['tracestream_model_tokens_per_second', 'Training throughput since the previous evaluation'],
  trainLoss: ['tracestream_model_train_loss', 'Mean training loss (nats per token) since the previous evaluation'],
  stepLoss: ['tracestream_model_step_loss', 'Training loss (nats per token) of the latest optimizer step'],
  traceLoss: ['tracestream_model_eval_trace_loss', 'Held-out loss on trace tokens (nats per token)'],
  trainLagSeconds: ['tracestream_model_train_lag_seconds', 'Lag from a trace being produced to being trained on'],
  nextStateAccuracy: ['tracestream_model_next_state_accuracy', 'Held-out next-state accuracy, by predictor (model, repeat_previous, most_frequent)'],
  variableAccuracy: ['tracestream_model_variable_accuracy', 'Held-out per-variable state accuracy, by predictor'],
  outputAccuracy: ['tracestream_model_output_accuracy', 'Held-out output accuracy, by predictor'],
} as const;

type GaugeKey = keyof typeof GAUGES;
const BY_PREDICTOR: ReadonlySet<GaugeKey> = new Set(['nextStateAccuracy', 'variableAccuracy', 'outputAccuracy']);

/** What one optimizer step changed, for the gauges that move between evaluations. */
export interface StepFigures {
  step: number;
  tokensTrained: number;
  loss: number;
  /** From a trace being produced to the step that finished training on it; null until one has. */
  lagMs: number | null;
}

const CHECKPOINTS = ['tracestream_model_checkpoints_total', 'Checkpoints written'] as const;

export interface ModelGauges {
  /** Sets every gauge from an evaluation. */
  update(metrics: ModelMetrics): void;
  /** Sets the step, tokens, step loss and lag gauges after an optimizer step. */
  stepped(figures: StepFigures): void;
  /** Counts a checkpoint written. */
  checkpointWritten(): void;
  /** Removes the gauges from their registry. Idempotent. */
  teardown(): void;
}

/**
 * Prometheus gauges of the trainer, registered in `registry` (default: prom-client's global one,
 * which a `/metrics` endpoint serves). Gauges already there (a second trainer in the process) are
 * reused.
 */
export function registerModelGauges(registry: Registry = defaultRegistry): ModelGauges {
  const gauges = Object.fromEntries(Object.entries(GAUGES).map(([key, [name, help]]) => {
    const existing = registry.getSingleMetric(name);
    const gauge = existing instanceof Gauge ? existing : new Gauge({
      name, help, registers: [registry], labelNames: BY_PREDICTOR.has(key as GaugeKey) ? ['predictor'] : [],
    });
    return [key, gauge];
  })) as Record<GaugeKey, Gauge>;
  const existingCheckpoints = registry.getSingleMetric(CHECKPOINTS[0]);
  const checkpoints = existingCheckpoints instanceof Counter ? existingCheckpoints : new Counter({ name: CHECKPOINTS[0], help: CHECKPOINTS[1], registers: [registry] });
  let registered = true;
  const set = (key: GaugeKey, value: number | null, predictor?: string): void => {
    if (value === null) return;
    if (predictor === undefined) gauges[key].set(value);
    else gauges[key].set({ predictor }, value);
  };
  return {
    update(m) {
      set('steps', m.step);
      set('tokensTrained', m.tokensTrained);
      set('tokensPerSecond', m.tokensPerSecond);
      set('trainLoss', m.trainLoss);
      set('traceLoss', m.traceLoss);
      set('trainLagSeconds', m.trainLagMs === null ? null : m.trainLagMs / 1000);
      for (const [predictor, accuracy] of [['model', m.model], ['repeat_previous', m.repeatPrevious], ['most_frequent', m.mostFrequent]] as const) {
        set('nextStateAccuracy', accuracy.nextState, predictor);
        set('variableAccuracy', accuracy.variables, predictor);
        set('outputAccuracy', accuracy.output, predictor);
      }
    },
    stepped(f) {
      set('steps', f.step);
      set('tokensTrained', f.tokensTrained);
      set('stepLoss', f.loss);
      set('trainLagSeconds', f.lagMs === null ? null : f.lagMs / 1000);
    },
    checkpointWritten() {
      checkpoints.inc();
    },
    teardown() {
      if (!registered) return;
      registered = false;
      for (const [name] of [...Object.values(GAUGES), CHECKPOINTS]) registry.removeSingleMetric(name);
    },
  };
}
