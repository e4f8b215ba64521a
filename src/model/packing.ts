import { TracestreamError } from '../errors/index.js';
import type { TokenizedRun } from './tokenizer.js';

/** A batch of packed sequences, ready for a training step. */
export interface PackedBatch {
  rows: number;
  time: number;
  /** rows × time token ids. */
  inputs: Int32Array;
  /** The next token after each input (the input shifted by one). */
  targets: Int32Array;
  /** 1 where the target is a trace token, 0 where it is source, 2 where it is padding (no loss counted). */
  targetIsTrace: Uint8Array;
  /** Production times of the runs whose last token is in this batch: their training lag ends now. */
  completedRunsProducedAtMs: number[];
}

/** What a checkpoint keeps of the packer: the tokens consumed but not yet trained on. */
export interface PackerState {
  tokens: number[];
  isTrace: number[];
}

/**
 * Packs runs end to end (each followed by end-of-text) into fixed-length sequences, so no step pads:
 * a sequence may start inside one run and end inside the next, as in GPT pre-training. Consecutive
 * sequences share one token (the last input of one is the first of the next), so every token is a
 * target exactly once. Holds at most `maxPendingTokens`; the caller stops consuming when full.
 */
export class SequencePacker {
  private tokens: Uint16Array;
  private isTrace: Uint8Array;
  private length = 0;
  /** Tokens taken out since the packer was made (positions of pending tokens are offset by this). */
  private takenTotal = 0;
  private readonly runEnds: { end: number; producedAtMs: number }[] = [];

  constructor(readonly sequenceTokens: number, readonly maxPendingTokens: number) {
    if (maxPendingTokens < sequenceTokens + 1) {
      throw new TracestreamError('CONFIG_INVALID', `maxPendingTokens (${maxPendingTokens}) must hold at least one sequence of ${sequenceTokens + 1} tokens`);
    }
    this.tokens = new Uint16Array(maxPendingTokens);
    this.isTrace = new Uint8Array(maxPendingTokens);
  }

  get pendingTokens(): number {
    return this.length;
  }

  /** Room left; a run longer than this must wait (or be cut by the caller). */
  get freeTokens(): number {
    return this.maxPendingTokens - this.length;
  }

  push(run: TokenizedRun, producedAtMs = Date.now()): void {
    const n = run.tokens.length;
    if (n > this.freeTokens) {
      throw new TracestreamError('BUFFER_OVERFLOW', `a run of ${n} tokens does not fit in the packer's ${this.freeTokens} free tokens; take sequences first or cut the run`);
    }
    this.tokens.set(run.tokens, this.length);
    this.isTrace.set(run.isTrace, this.length);
    this.length += n;
    this.runEnds.push({ end: this.takenTotal + this.length, producedAtMs });
  }

  /** True when `rows` sequences can be taken. */
  canTake(rows: number): boolean {
    return this.length >= rows * this.sequenceTokens + 1;
  }

  take(rows: number): PackedBatch {
    if (!this.canTake(rows)) throw new TracestreamError('INPUT_INVALID', `the packer holds ${this.length} tokens, ${rows} sequences need ${rows * this.sequenceTokens + 1}`);
    const time = this.sequenceTokens;
    const inputs = new Int32Array(rows * time);
    const targets = new Int32Array(rows * time);
    const targetIsTrace = new Uint8Array(rows * time);
    for (let r = 0; r < rows; r += 1) {
      const start = r * time;
      for (let t = 0; t < time; t += 1) {
        inputs[start + t] = this.tokens[start + t]!;
        targets[start + t] = this.tokens[start + t + 1]!;
        targetIsTrace[start + t] = this.isTrace[start + t + 1]!;
      }
    }
    const used = rows * time;
    this.tokens.copyWithin(0, used, this.length);
    this.isTrace.copyWithin(0, used, this.length);
    this.length -= used;
    this.takenTotal += used;
    const completedRunsProducedAtMs: number[] = [];
    // A run is trained on once its last token has been a target: position end - 1 < takenTotal + 1.
    while (this.runEnds.length > 0 && this.runEnds[0]!.end <= this.takenTotal + 1) {
      completedRunsProducedAtMs.push(this.runEnds.shift()!.producedAtMs);
    }
    return { rows, time, inputs, targets, targetIsTrace, completedRunsProducedAtMs };
  }

  state(): PackerState {
    return { tokens: Array.from(this.tokens.subarray(0, this.length)), isTrace: Array.from(this.isTrace.subarray(0, this.length)) };
  }

  restore(state: PackerState): void {
    if (state.tokens.length !== state.isTrace.length || state.tokens.length > this.maxPendingTokens) {
      throw new TracestreamError('CHECKPOINT_INVALID', `packer state of ${state.tokens.length} tokens does not fit a packer of ${this.maxPendingTokens}`);
    }
    this.tokens.set(state.tokens);
    this.isTrace.set(state.isTrace);
    this.length = state.tokens.length;
    this.runEnds.length = 0;
  }
}
