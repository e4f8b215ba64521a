import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';

export const optimizerConfigSchema = z.object({
  peakLearningRate: z.number().positive().max(1).default(1e-3),
  /** The rate cosine decay ends at, as a fraction of the peak. */
  minLearningRateRatio: z.number().min(0).max(1).default(0.1),
  /** Steps of linear warm-up from 0 to the peak. */
  warmupSteps: z.number().int().nonnegative().default(100),
  /** `cosine`: decay from the peak to the minimum over `decaySteps`, then stay there; `constant`: stay at the peak. */
  schedule: z.enum(['cosine', 'constant']).default('cosine'),
  decaySteps: z.number().int().positive().default(20_000),
  beta1: z.number().min(0).max(1).default(0.9),
  beta2: z.number().min(0).max(1).default(0.95),
  epsilon: z.number().positive().default(1e-8),
  /** Decoupled weight decay (AdamW), applied to matrices only, not to gains and biases. */
  weightDecay: z.number().min(0).default(0.1),
  /** Gradients are scaled down so that their global L2 norm is at most this. */
  clipNorm: z.number().positive().default(1),
});

export type OptimizerConfig = z.output<typeof optimizerConfigSchema>;
export type OptimizerConfigInput = z.input<typeof optimizerConfigSchema>;

/** Learning rate at `step` (0-based): linear warm-up, then cosine decay or constant. */
export function learningRateAt(config: OptimizerConfig, step: number): number {
  if (step < config.warmupSteps) return config.peakLearningRate * (step + 1) / config.warmupSteps;
  if (config.schedule === 'constant') return config.peakLearningRate;
  const progress = Math.min(1, (step - config.warmupSteps) / config.decaySteps);
  const min = config.peakLearningRate * config.minLearningRateRatio;
  return min + (config.peakLearningRate - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/** What one optimizer step reports. */
export interface StepReport {
  learningRate: number;
  /** Global gradient norm before clipping. */
  gradientNorm: number;
  /** True when the gradient was not finite and no update was made. */
  skipped: boolean;
}

/**
 * AdamW (Loshchilov & Hutter) with global-norm gradient clipping. Its state (first and second
 * moments per variable, step count) is held in tensors of its own so that a checkpoint saves and
 * restores it exactly; tf.train.adam keeps its moments out of reach and has no decoupled decay.
 */
export class AdamW {
  readonly config: OptimizerConfig;
  /** Steps taken so far; bias correction and the schedule follow it. */
  step = 0;
  readonly firstMoments: tf.Variable[];
  readonly secondMoments: tf.Variable[];

  constructor(private readonly variables: readonly tf.Variable[], config: OptimizerConfigInput = {}) {
    this.config = optimizerConfigSchema.parse(config);
    this.firstMoments = variables.map((v) => tf.variable(tf.zerosLike(v), false));
    this.secondMoments = variables.map((v) => tf.variable(tf.zerosLike(v), false));
  }

  /** Applies `grads` (one per variable, in order) and disposes them. */
  apply(grads: readonly tf.Tensor[]): StepReport {
    const { beta1, beta2, epsilon, weightDecay, clipNorm } = this.config;
    const learningRate = learningRateAt(this.config, this.step);
    this.step += 1;
    const squaredNorm = tf.tidy(() => tf.addN(grads.map((g) => g.square().sum())));
    const gradientNorm = Math.sqrt(squaredNorm.dataSync()[0]!);
    squaredNorm.dispose();
    if (!Number.isFinite(gradientNorm)) {
      // One bad batch (overflowing logits) must not turn every weight into NaN: skip it.
      for (const g of grads) g.dispose();
      return { learningRate, gradientNorm, skipped: true };
    }
    const clip = gradientNorm > clipNorm ? clipNorm / gradientNorm : 1;
    const correction1 = 1 - beta1 ** this.step;
    const correction2 = 1 - beta2 ** this.step;
    tf.tidy(() => {
      this.variables.forEach((variable, i) => {
        const g = clip === 1 ? grads[i]! : grads[i]!.mul(clip);
        const m = this.firstMoments[i]!.mul(beta1).add(g.mul(1 - beta1));
        const v = this.secondMoments[i]!.mul(beta2).add(g.square().mul(1 - beta2));
        this.firstMoments[i]!.assign(m);
        this.secondMoments[i]!.assign(v);
        let update = m.div(correction1).div(v.div(correction2).sqrt().add(epsilon));
        if (weightDecay > 0 && variable.rank >= 2) update = update.add(variable.mul(weightDecay));
        variable.assign(variable.sub(update.mul(learningRate)));
      });
    });
    for (const g of grads) g.dispose();
    return { learningRate, gradientNorm, skipped: false };
  }

  dispose(): void {
    for (const t of [...this.firstMoments, ...this.secondMoments]) t.dispose();
  }
}
