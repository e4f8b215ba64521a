import { createHash } from 'node:crypto';
import { TracestreamError } from '../errors/index.js';

/**
 * Which split a problem belongs to. Replay's dataset shards and the model consumer's held-out
 * evaluation stream both decide by this one rule, so no problem is trained on and evaluated on, and
 * no problem appears in two dataset splits.
 *
 * The rule: the first 8 bytes of SHA-256 of the problem id's UTF-8 bytes, read as a big-endian
 * unsigned integer and divided by 2^64, give a point `u` in [0, 1). `u < train` is `train`,
 * `u < train + validation` is `validation`, the rest is `test`. It depends on the problem id alone,
 * so it is stable across machines, runs, partition counts and versions.
 *
 * @example
 * splitOf('two-sum') // 'train', 'validation' or 'test', always the same one
 */
export type Split = 'train' | 'validation' | 'test';

export const SPLITS: readonly Split[] = ['train', 'validation', 'test'];

/** Fractions of problems per split; they must sum to 1. */
export interface SplitRatios {
  train: number;
  validation: number;
  test: number;
}

export const DEFAULT_SPLIT_RATIOS: Readonly<SplitRatios> = Object.freeze({ train: 0.8, validation: 0.1, test: 0.1 });

const TWO_TO_64 = 2 ** 64;

/** The problem's point in [0, 1): the same for the same id everywhere. */
export function splitPointOf(problemId: string): number {
  const digest = createHash('sha256').update(problemId, 'utf8').digest();
  return Number(digest.readBigUInt64BE(0)) / TWO_TO_64;
}

export function splitOf(problemId: string, ratios: SplitRatios = DEFAULT_SPLIT_RATIOS): Split {
  const point = splitPointOf(problemId);
  if (point < ratios.train) return 'train';
  if (point < ratios.train + ratios.validation) return 'validation';
  return 'test';
}

/** Checks ratios given by a user: each in [0, 1], summing to 1 (within rounding). */
export function validateSplitRatios(ratios: SplitRatios): SplitRatios {
  for (const split of SPLITS) {
    const value = ratios[split];
    if (!Number.isFinite(value) || value < 0 || value > 1) {
      throw new TracestreamError('CONFIG_INVALID', `split ratio ${split} must be between 0 and 1, got ${value}`, { details: { field: split } });
    }
  }
  const sum = ratios.train + ratios.validation + ratios.test;
  if (Math.abs(sum - 1) > 1e-9) {
    throw new TracestreamError('CONFIG_INVALID', `split ratios must sum to 1, got ${sum} (train ${ratios.train}, validation ${ratios.validation}, test ${ratios.test})`);
  }
  return ratios;
}
