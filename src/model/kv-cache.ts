import * as tf from '@tensorflow/tfjs';
import { TracestreamError } from '../errors/index.js';
import { headsOf, mergeHeads, type AttentionShape } from './attention.js';
import { attentionBias, type Transformer } from './transformer.js';

/**
 * The keys and values every attention layer of `model` computed for a batch of sequences being
 * decoded, so that a new token costs one position (its projections, and attention over the
 * cached keys) instead of a forward pass over its whole window.
 *
 * Row r holds a window of its sequence at positions 0..length(r)-1; positions past it may hold
 * leftovers (of a longer window, or of a teacher-forced pass), which the attention mask hides and
 * the next steps overwrite. Per layer the cache keeps keysT [rows·heads, headWidth, context]
 * (transposed, so that q·Kᵀ is a product without transpose flags) and values
 * [rows·heads, context, headWidth]. A step does, per row and query, the arithmetic of a full
 * pass at that position (masked keys only add exact zeros): on the JS CPU backend its logits
 * are the same to the bit; elsewhere kernels may sum in another order.
 */
export class KeyValueCache {
  private keysT: tf.Tensor3D[];
  private values: tf.Tensor3D[];
  private lengths: number[];
  /** Positions a window may hold: the model's context. */
  readonly context: number;
  private readonly heads: number;
  private readonly headWidth: number;

  constructor(private readonly model: Transformer, rows: number) {
    const { contextTokens, heads, width, layers } = model.config;
    this.context = contextTokens;
    this.heads = heads;
    this.headWidth = width / heads;
    this.lengths = new Array<number>(rows).fill(0);
    this.keysT = Array.from({ length: layers }, () => tf.zeros([rows * heads, this.headWidth, contextTokens]));
    this.values = Array.from({ length: layers }, () => tf.zeros([rows * heads, contextTokens, this.headWidth]));
  }

  get rows(): number {
    return this.lengths.length;
  }

  /** Positions of `row` that hold its window (the next token goes at this position). */
  length(row: number): number {
    return this.lengths[row]!;
  }

  /**
   * Replaces the windows of `rows` by `windows` (each at most `context` tokens, at positions from
   * 0) with one forward pass, and returns, per window, the most likely next token at each of its
   * positions (what a teacher-forced pass checks). Other rows are left as they are.
   */
  fill(rows: readonly number[], windows: readonly ArrayLike<number>[]): Int32Array[] {
    if (rows.length === 0) return [];
    const time = Math.max(1, ...Array.from(windows, (w) => w.length));
    const flat = new Int32Array(rows.length * time);
    windows.forEach((w, i) => flat.set(Array.from(w), i * time));
    const shape: AttentionShape = { batch: rows.length, time, heads: this.heads, headWidth: this.headWidth };
    const padding = this.context - time;
    const keysT: tf.Tensor3D[] = [];
    const values: tf.Tensor3D[] = [];
    const argmax = tf.tidy(() => {
      const logits = this.model.logits(tf.tensor2d(flat, [rows.length, time], 'int32'), (layer, qkv) => {
        const [, k, v] = tf.split(headsOf(qkv, shape), 3, 0) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
        keysT[layer] = tf.keep(k.transpose([0, 2, 1]).pad([[0, 0], [0, 0], [0, padding]]));
        values[layer] = tf.keep(v.pad([[0, 0], [0, padding], [0, 0]]));
      });
      return logits.argMax(1);
    });
    const predicted = argmax.dataSync() as Int32Array;
    argmax.dispose();
    const groups = rows.flatMap((row) => this.groupsOf(row));
    for (let layer = 0; layer < keysT.length; layer += 1) {
      this.keysT[layer] = replaceGroups(this.keysT[layer]!, keysT[layer]!, groups);
      this.values[layer] = replaceGroups(this.values[layer]!, values[layer]!, groups);
    }
    rows.forEach((row, i) => {
      this.lengths[row] = windows[i]!.length;
    });
    return windows.map((w, i) => predicted.slice(i * time, i * time + w.length));
  }

  /** Keeps only the first `length` positions of `row`'s window (the next token goes there). */
  truncate(row: number, length: number): void {
    if (length < 0 || length > this.lengths[row]!) throw new TracestreamError('INPUT_INVALID', `row ${row} holds ${this.lengths[row]} positions, cannot keep ${length}`);
    this.lengths[row] = length;
  }

  /**
   * Appends tokens[r] to every row r at its next position, and returns each row's most likely
   * next token. A row whose window is full (context positions) must be filled again first.
   */
  step(tokens: readonly number[]): Int32Array {
    const rows = this.rows;
    const { context, heads, headWidth } = this;
    const full = this.lengths.findIndex((l) => l >= context);
    if (full >= 0) throw new TracestreamError('INPUT_INVALID', `row ${full}'s window holds ${context} positions, the model's context: fill it again before stepping`);
    const groups = rows * heads;
    // Per (row, head): the new token's mask over the keys (what a full pass's mask has in its row), and where its key and value go.
    const slopes = this.model.alibiSlopes();
    const maskValues = new Float32Array(groups * context);
    const slot = new Float32Array(groups * context);
    this.lengths.forEach((position, row) => {
      this.groupsOf(row).forEach((g, head) => {
        const slope = slopes === null ? 0 : slopes[head]!;
        for (let key = 0; key < context; key += 1) maskValues[g * context + key] = attentionBias(slope, position, key);
        slot[g * context + position] = 1;
      });
    });
    const shape: AttentionShape = { batch: rows, time: 1, heads, headWidth };
    const scale = 1 / Math.sqrt(headWidth);
    const keysT: tf.Tensor3D[] = [];
    const values: tf.Tensor3D[] = [];
    const argmax = tf.tidy(() => {
      const mask = tf.tensor3d(maskValues, [groups, 1, context]);
      const keySlot = tf.tensor3d(slot, [groups, 1, context]);
      const valueSlot = keySlot.reshape([groups, context, 1]) as tf.Tensor3D;
      const logits = this.model.logitsAt(tf.tensor1d(Int32Array.from(tokens), 'int32'), tf.tensor1d(this.lengths, 'int32'), (layer, qkv) => {
        const [q, k, v] = tf.split(headsOf(qkv, shape), 3, 0) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
        const layerKeysT = tf.keep(overwrite(this.keysT[layer]!, keySlot, k.reshape([groups, headWidth, 1])));
        const layerValues = tf.keep(overwrite(this.values[layer]!, valueSlot, v));
        keysT[layer] = layerKeysT;
        values[layer] = layerValues;
        // The order of a full pass's attention: scores, scaled, masked, softmax, weighted sum.
        const weights = tf.softmax(tf.matMul(q, layerKeysT).mul(scale).add(mask));
        return mergeHeads(tf.matMul(weights, layerValues), shape);
      });
      return logits.argMax(1);
    });
    const next = argmax.dataSync() as Int32Array;
    argmax.dispose();
    tf.dispose([...this.keysT, ...this.values]);
    this.keysT = keysT;
    this.values = values;
    this.lengths = this.lengths.map((l) => l + 1);
    return next;
  }

  /** Keeps only `rows`, in this order (rows that finished decoding cost nothing more). */
  retain(rows: readonly number[]): void {
    const groups = tf.tensor1d(rows.flatMap((row) => this.groupsOf(row)), 'int32');
    const pick = (all: tf.Tensor3D[]): tf.Tensor3D[] => all.map((t) => {
      const kept = tf.gather(t, groups);
      t.dispose();
      return kept;
    });
    this.keysT = pick(this.keysT);
    this.values = pick(this.values);
    groups.dispose();
    this.lengths = rows.map((row) => this.lengths[row]!);
  }

  dispose(): void {
    tf.dispose([...this.keysT, ...this.values]);
    this.keysT = [];
    this.values = [];
  }

  /** The (row, head) groups of `row`, in the cache's order. */
  private groupsOf(row: number): number[] {
    return Array.from({ length: this.heads }, (_, h) => row * this.heads + h);
  }
}

/**
 * `old` where `at` is 0 and `fresh` where it is 1, `at` and `fresh` broadcast to old's shape. Products
 * with 0 and 1 and a sum with 0 are exact, so the values are copied bit for bit; unlike tf.where,
 * it needs no broadcastTo (on WASM a Tile that took 90% of a step).
 */
function overwrite(old: tf.Tensor3D, at: tf.Tensor3D, fresh: tf.Tensor3D): tf.Tensor3D {
  return old.mul(tf.sub(1, at)).add(fresh.mul(at));
}

/** `all` [G, a, b] with group at[i] replaced by fresh's group i; disposes both inputs. */
function replaceGroups(all: tf.Tensor3D, fresh: tf.Tensor3D, at: readonly number[]): tf.Tensor3D {
  const total = all.shape[0];
  if (at.length === total && at.every((g, i) => g === i)) {
    all.dispose();
    return fresh;
  }
  const source = new Int32Array(total);
  const replaced = new Float32Array(total);
  at.forEach((g, i) => {
    source[g] = i;
    replaced[g] = 1;
  });
  const merged = tf.tidy(() => overwrite(all, tf.tensor3d(replaced, [total, 1, 1]), tf.gather(fresh, tf.tensor1d(source, 'int32'))));
  tf.dispose([all, fresh]);
  return merged;
}
