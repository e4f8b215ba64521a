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

/** What a checkpoint keeps of a BatchPacker: each lane's pending tokens. */
export interface BatchPackerState {
  lanes: PackerState[];
}

/**
 * Packs runs into batches whose rows come from different runs: one SequencePacker (lane) per row,
 * each run going whole into the lane that holds fewest tokens, and a batch is the next sequence of
 * every lane. Packed into one lane, a batch of 8 × 512 tokens is 4,096 tokens of one or two
 * programs, and a long trace fills several batches in a row: the model would chase each program
 * for several steps. Every lane keeps SequencePacker's rule: each token is a target exactly once.
 */
export class BatchPacker {
  private readonly lanes: SequencePacker[];

  /** `rows` lanes of `sequenceTokens` sequences; each holds a run of up to `maxRunTokens` tokens whenever it lacks a sequence. */
  constructor(readonly rows: number, readonly sequenceTokens: number, maxRunTokens: number) {
    this.lanes = Array.from({ length: rows }, () => new SequencePacker(sequenceTokens, sequenceTokens + 1 + maxRunTokens));
  }

  get pendingTokens(): number {
    return this.lanes.reduce((sum, lane) => sum + lane.pendingTokens, 0);
  }

  /** True when every lane holds a sequence: take() can make a batch. */
  canTake(): boolean {
    return this.lanes.every((lane) => lane.canTake(1));
  }

  /** Puts a run into the lane with the fewest tokens (the first such lane), where it must fit. */
  push(run: TokenizedRun, producedAtMs = Date.now()): void {
    const emptiest = this.lanes.reduce((best, lane) => (lane.pendingTokens < best.pendingTokens ? lane : best));
    emptiest.push(run, producedAtMs);
  }

  take(): PackedBatch {
    if (!this.canTake()) throw new TracestreamError('INPUT_INVALID', `a lane of the packer lacks a sequence of ${this.sequenceTokens + 1} tokens`);
    const parts = this.lanes.map((lane) => lane.take(1));
    const size = this.rows * this.sequenceTokens;
    const batch: PackedBatch = {
      rows: this.rows, time: this.sequenceTokens,
      inputs: new Int32Array(size), targets: new Int32Array(size), targetIsTrace: new Uint8Array(size),
      completedRunsProducedAtMs: parts.flatMap((part) => part.completedRunsProducedAtMs),
    };
    parts.forEach((part, row) => {
      const at = row * this.sequenceTokens;
      batch.inputs.set(part.inputs, at);
      batch.targets.set(part.targets, at);
      batch.targetIsTrace.set(part.targetIsTrace, at);
    });
    return batch;
  }

  state(): BatchPackerState {
    return { lanes: this.lanes.map((lane) => lane.state()) };
  }

  /** Restores every lane; the state must come from a packer of as many lanes (rows per batch). */
  restore(state: BatchPackerState): void {
    if (!Array.isArray(state.lanes) || state.lanes.length !== this.rows) {
      const saved = Array.isArray(state.lanes) ? `${state.lanes.length} lanes (batches of ${state.lanes.length} rows)` : 'no packing lanes (it was written before batches were packed by lanes; train into a new folder)';
      throw new TracestreamError('CHECKPOINT_INVALID', `the checkpoint's packer holds ${saved}; resume with a batch of that many rows (this trainer has ${this.rows})`);
    }
    state.lanes.forEach((lane, i) => this.lanes[i]!.restore(lane));
  }
}
