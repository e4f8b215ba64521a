import * as tf from '@tensorflow/tfjs';
import type { AdamW } from './optimizer.js';
import type { PackedBatch } from './packing.js';
import type { Transformer } from './transformer.js';

/** Losses of a batch, split by where the target token lies. */
export interface TokenLossSums {
  /** Sum of negative log-likelihoods (nats) over trace targets, and their count. */
  traceNll: number;
  traceTokens: number;
  sourceNll: number;
  sourceTokens: number;
}

export interface StepResult extends TokenLossSums {
  /** Mean loss over every target of the batch (what the gradient descends). */
  loss: number;
  learningRate: number;
  gradientNorm: number;
  skipped: boolean;
}

function splitLosses(nll: Float32Array, targetIsTrace: Uint8Array): TokenLossSums {
  const sums: TokenLossSums = { traceNll: 0, traceTokens: 0, sourceNll: 0, sourceTokens: 0 };
  for (let i = 0; i < nll.length; i += 1) {
    if (targetIsTrace[i] === 1) {
      sums.traceNll += nll[i]!;
      sums.traceTokens += 1;
    } else if (targetIsTrace[i] === 0) {
      sums.sourceNll += nll[i]!;
      sums.sourceTokens += 1;
    }
  }
  return sums;
}

/** One forward + backward pass and AdamW update on a packed batch. */
export function trainOnBatch(model: Transformer, optimizer: AdamW, batch: PackedBatch): StepResult {
  const inputs = tf.tensor2d(batch.inputs, [batch.rows, batch.time], 'int32');
  const targets = tf.tensor2d(batch.targets, [batch.rows, batch.time], 'int32');
  let perToken: tf.Tensor1D | undefined;
  try {
    const { value, grads } = tf.variableGrads(() => {
      const losses = model.tokenLosses(inputs, targets);
      perToken = tf.keep(losses);
      return losses.mean() as tf.Scalar;
    }, model.variables);
    const loss = value.dataSync()[0]!;
    value.dispose();
    const nll = perToken!.dataSync() as Float32Array;
    const report = optimizer.apply(model.variables.map((v) => grads[v.name]!));
    return { loss, ...splitLosses(nll, batch.targetIsTrace), ...report };
  } finally {
    perToken?.dispose();
    inputs.dispose();
    targets.dispose();
  }
}

/** Per-token losses without training (evaluation). */
export function lossesOf(model: Transformer, batch: PackedBatch): TokenLossSums {
  const nll = tf.tidy(() => model.tokenLosses(
    tf.tensor2d(batch.inputs, [batch.rows, batch.time], 'int32'),
    tf.tensor2d(batch.targets, [batch.rows, batch.time], 'int32'),
  ));
  try {
    return splitLosses(nll.dataSync() as Float32Array, batch.targetIsTrace);
  } finally {
    nll.dispose();
  }
}
