import { z } from 'zod';
import type { ModelMetrics } from '../avro/index.js';
import { DEFAULT_SPLIT_RATIOS, splitOf, type Split } from '../dataset/splits.js';
import type { ChosenBackend } from './backend.js';
import { loadCheckpoint, restoreCheckpoint, saveCheckpoint, type PartitionOffsets } from './checkpoint.js';
import { DEFAULT_EVALUATION_OPTIONS, RecordFrequencies, evaluate, type EvaluationOptions, type EvaluationResult, type EvaluationRun } from './evaluation.js';
import { AdamW, optimizerConfigSchema } from './optimizer.js';
import { BatchPacker } from './packing.js';
import { trainOnBatch, type StepResult } from './step.js';
import { BYTE_TOKENIZER, tokenizeRun } from './tokenizer.js';
import { Transformer, modelConfigSchema } from './transformer.js';

const trainerOptionsSchema = z.object({
  /** Folder of the checkpoints (and the metrics history); a trainer started on it again resumes. */
  checkpointDir: z.string().min(1),
  /** Used for a new model only: a resumed one keeps the shape it was saved with. */
  model: modelConfigSchema.default(modelConfigSchema.parse({})),
  optimizer: optimizerConfigSchema.default(optimizerConfigSchema.parse({})),
  /** Sequences per step; each is `model.contextTokens` long. */
  batchRows: z.number().int().positive().default(8),
  /** Longer runs are cut (at a record boundary) to this many bytes (tokens) of compact text. */
  maxTokensPerRun: z.number().int().min(64).default(16_384),
  /** A checkpoint (with an evaluation) is written after this many trained tokens... */
  checkpointEveryTokens: z.number().int().positive().default(1_000_000),
  /** ...or this long after the previous one, whichever comes first. */
  checkpointEveryMs: z.number().int().positive().default(5 * 60_000),
  /** The split held out for evaluation; runs of the other held-out split are skipped. */
  evaluationSplit: z.enum(['validation', 'test']).default('validation'),
  /** Held-out runs kept for evaluation (the first ones seen, at most `evaluationRunsPerProblem` each). */
  maxEvaluationRuns: z.number().int().nonnegative().default(48),
  evaluationRunsPerProblem: z.number().int().positive().default(2),
  evaluation: z.object({
    lossTokensPerRun: z.number().int().positive().default(DEFAULT_EVALUATION_OPTIONS.lossTokensPerRun),
    recordsPerRun: z.number().int().positive().default(DEFAULT_EVALUATION_OPTIONS.recordsPerRun),
    maxRecords: z.number().int().nonnegative().default(DEFAULT_EVALUATION_OPTIONS.maxRecords),
    maxRecordTokens: z.number().int().positive().default(DEFAULT_EVALUATION_OPTIONS.maxRecordTokens),
    batchRows: z.number().int().positive().default(DEFAULT_EVALUATION_OPTIONS.batchRows),
  }).default(DEFAULT_EVALUATION_OPTIONS),
  /** Run ids remembered to drop redelivered traces (at-least-once producers may write one twice). */
  dedupeWindow: z.number().int().nonnegative().default(10_000),
});

export type TrainerOptions = z.input<typeof trainerOptionsSchema>;
type TrainerConfig = z.output<typeof trainerOptionsSchema>;

/** A consumed trace, rendered: what the trainer needs of it. */
export interface ConsumedRun {
  runId: string;
  problemId: string;
  /** The compact rendering with its source header (src/trace/compact.ts). */
  text: string;
  producedAtMs: number;
  topic: string;
  partition: number;
  offset: number;
}

export type RunDisposition = 'train' | 'evaluate' | 'skipped' | 'duplicate';

/** Figures accumulated since the last evaluation. */
interface Window {
  steps: number;
  lossSum: number;
  trace: { nll: number; tokens: number };
  source: { nll: number; tokens: number };
  trainMs: number;
  tokens: number;
}

const newWindow = (): Window => ({ steps: 0, lossSum: 0, trace: { nll: 0, tokens: 0 }, source: { nll: 0, tokens: 0 }, trainMs: 0, tokens: 0 });

/**
 * The online trainer, without Kafka: runs come in (`offer`), training runs go into the packer,
 * held-out ones into a fixed evaluation set, and `step` trains on packed batches. Its position in
 * the input (next offset per partition) only moves past a run once the run is in the packer, and
 * the packer's tokens are saved with the checkpoint, so a trainer resumed from a checkpoint neither
 * loses nor repeats a run.
 */
export class OnlineTrainer {
  readonly config: TrainerConfig;
  tokensTrained = 0;
  lastLagMs: number | null = null;
  private readonly offsets: PartitionOffsets = {};
  private readonly packer: BatchPacker;
  private readonly frequencies = new RecordFrequencies();
  private readonly evaluationRuns: EvaluationRun[] = [];
  private readonly recentRunIds = new Set<string>();
  private window = newWindow();
  private tokensAtCheckpoint = 0;
  /** Anything consumed or trained since the last checkpoint. */
  private changedSinceCheckpoint = false;
  private checkpointAtMs = Date.now();

  private constructor(
    config: TrainerConfig,
    readonly backend: ChosenBackend,
    readonly model: Transformer,
    readonly optimizer: AdamW,
  ) {
    this.config = config;
    const time = model.config.contextTokens;
    // A cut run is at most maxTokensPerRun bytes of text and its end-of-text token.
    this.packer = new BatchPacker(config.batchRows, time, config.maxTokensPerRun + 1);
  }

  /** A trainer resumed from the checkpoint in `checkpointDir`, or a new one when there is none. */
  static async open(options: TrainerOptions, backend: ChosenBackend): Promise<{ trainer: OnlineTrainer; resumedFrom: string | null }> {
    const config = trainerOptionsSchema.parse(options);
    const loaded = await loadCheckpoint(config.checkpointDir);
    const model = new Transformer(loaded?.meta.model ?? config.model, backend.kernels);
    const optimizer = new AdamW(model.variables, loaded?.meta.optimizer.config ?? config.optimizer);
    const trainer = new OnlineTrainer(config, backend, model, optimizer);
    if (loaded !== null) {
      restoreCheckpoint(loaded, model, optimizer);
      trainer.tokensTrained = loaded.meta.tokensTrained;
      trainer.tokensAtCheckpoint = loaded.meta.tokensTrained;
      Object.assign(trainer.offsets, structuredClone(loaded.meta.offsets));
      trainer.packer.restore(loaded.state.packer);
      trainer.evaluationRuns.push(...loaded.state.evaluationRuns);
      trainer.frequencies.restore(loaded.state.recordFrequencies);
    }
    return { trainer, resumedFrom: loaded?.path ?? null };
  }

  /** Next offset to read per topic and partition (where this trainer's input position is). */
  startOffsets(): PartitionOffsets {
    return structuredClone(this.offsets);
  }

  get step(): number {
    return this.optimizer.step;
  }

  /** True while the packer has room for another run; otherwise `step` first. */
  get wantsRuns(): boolean {
    return !this.packer.canTake();
  }

  /** Takes a consumed run: into training or the evaluation set by its problem's split. */
  offer(run: ConsumedRun): RunDisposition {
    this.pass(run.topic, run.partition, run.offset);
    if (this.recentRunIds.has(run.runId)) return 'duplicate';
    this.rememberRunId(run.runId);
    const split: Split = splitOf(run.problemId, DEFAULT_SPLIT_RATIOS);
    const text = cutAtRecord(run.text, this.config.maxTokensPerRun);
    if (split === 'train') {
      this.packer.push(tokenizeRun(text), run.producedAtMs);
      this.frequencies.addRun(text);
      return 'train';
    }
    if (split !== this.config.evaluationSplit) return 'skipped';
    const sameProblem = this.evaluationRuns.filter((r) => r.problemId === run.problemId).length;
    if (this.evaluationRuns.length < this.config.maxEvaluationRuns && sameProblem < this.config.evaluationRunsPerProblem) {
      this.evaluationRuns.push({ runId: run.runId, problemId: run.problemId, text });
    }
    return 'evaluate';
  }

  /** Moves the input position past a record that holds no run to train on (dead-lettered). */
  pass(topic: string, partition: number, offset: number): void {
    this.changedSinceCheckpoint = true;
    const partitions = (this.offsets[topic] ??= {});
    partitions[String(partition)] = Math.max(partitions[String(partition)] ?? 0, offset + 1);
  }

  private rememberRunId(runId: string): void {
    if (this.config.dedupeWindow === 0) return;
    this.recentRunIds.add(runId);
    if (this.recentRunIds.size > this.config.dedupeWindow) this.recentRunIds.delete(this.recentRunIds.values().next().value!);
  }

  /** Trains on one packed batch when the packer holds one; null otherwise. */
  trainStep(): StepResult | null {
    if (!this.packer.canTake()) return null;
    const batch = this.packer.take();
    const started = performance.now();
    const result = trainOnBatch(this.model, this.optimizer, batch);
    const now = Date.now();
    for (const producedAtMs of batch.completedRunsProducedAtMs) this.lastLagMs = now - producedAtMs;
    const tokens = batch.rows * batch.time;
    this.tokensTrained += tokens;
    const w = this.window;
    w.steps += 1;
    w.tokens += tokens;
    w.trainMs += performance.now() - started;
    w.lossSum += result.loss;
    w.trace.nll += result.traceNll;
    w.trace.tokens += result.traceTokens;
    w.source.nll += result.sourceNll;
    w.source.tokens += result.sourceTokens;
    return result;
  }

  /** True when the token or time budget of the current checkpoint is spent. */
  checkpointDue(nowMs = Date.now()): boolean {
    const trained = this.tokensTrained - this.tokensAtCheckpoint;
    return trained >= this.config.checkpointEveryTokens || (trained > 0 && nowMs - this.checkpointAtMs >= this.config.checkpointEveryMs);
  }

  /** True when the input position or the weights moved since the last checkpoint. */
  get hasUnsavedProgress(): boolean {
    return this.changedSinceCheckpoint || this.tokensTrained !== this.tokensAtCheckpoint;
  }

  /** Evaluates on the held-out set; null when it is empty. */
  evaluate(): EvaluationResult | null {
    if (this.evaluationRuns.length === 0) return null;
    return evaluate(this.model, this.evaluationRuns, this.frequencies.mostFrequent(), this.config.evaluation as EvaluationOptions);
  }

  /** The ModelMetrics event of an evaluation, with the training figures since the previous one; starts a new window. */
  metricsEvent(result: EvaluationResult, modelId: string): ModelMetrics {
    const w = this.window;
    this.window = newWindow();
    const mean = (nll: number, tokens: number): number | null => (tokens === 0 ? null : nll / tokens);
    return {
      schemaVersion: 1,
      modelId,
      step: this.step,
      tokensTrained: this.tokensTrained,
      backend: this.backend.name,
      trainLoss: w.steps === 0 ? null : w.lossSum / w.steps,
      trainTraceLoss: mean(w.trace.nll, w.trace.tokens),
      trainSourceLoss: mean(w.source.nll, w.source.tokens),
      tokensPerSecond: w.trainMs === 0 ? null : w.tokens / (w.trainMs / 1000),
      trainLagMs: this.lastLagMs,
      evalRuns: result.runs,
      traceLoss: result.traceLoss,
      tracePerplexity: result.tracePerplexity,
      sourceLoss: result.sourceLoss,
      model: result.model,
      repeatPrevious: result.repeatPrevious,
      mostFrequent: result.mostFrequent,
      evaluatedAtMs: Date.now(),
    };
  }

  /** Writes a checkpoint (atomically; see saveCheckpoint) and starts the next budget. */
  async checkpoint(): Promise<string> {
    const name = await saveCheckpoint(this.config.checkpointDir, this.model, this.optimizer, {
      step: this.step,
      tokensTrained: this.tokensTrained,
      tokenizer: BYTE_TOKENIZER,
      offsets: this.startOffsets(),
    }, {
      packer: this.packer.state(),
      evaluationRuns: this.evaluationRuns,
      recordFrequencies: this.frequencies.top(),
    });
    this.tokensAtCheckpoint = this.tokensTrained;
    this.checkpointAtMs = Date.now();
    this.changedSinceCheckpoint = false;
    return name;
  }

  dispose(): void {
    this.model.dispose();
    this.optimizer.dispose();
  }
}

/** The text cut to at most `maxBytes` UTF-8 bytes, at the end of a record (so every record kept is whole). */
function cutAtRecord(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  const lastNewline = bytes.lastIndexOf(0x0a, maxBytes - 1);
  return bytes.subarray(0, lastNewline < 0 ? 0 : lastNewline + 1).toString('utf8');
}
