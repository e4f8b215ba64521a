import * as tf from '@tensorflow/tfjs';
import { plain, type MatMulMode } from './matmul.js';

export interface AttentionShape {
  batch: number;
  time: number;
  heads: number;
  headWidth: number;
}

/** Packed qkv [batch·time, 3·width] as [3·groups, time, headWidth]: q of every (sequence, head), then k, then v. */
export function headsOf(qkv: tf.Tensor, shape: AttentionShape): tf.Tensor3D {
  const { batch, time, heads, headWidth } = shape;
  return qkv.reshape([batch, time, 3, heads, headWidth]).transpose([2, 0, 3, 1, 4]).reshape([3 * batch * heads, time, headWidth]);
}

/** Heads [groups, time, headWidth] back to [batch·time, width], heads side by side. */
export function mergeHeads(heads: tf.Tensor, shape: AttentionShape): tf.Tensor2D {
  const { batch, time, headWidth } = shape;
  return heads.reshape([batch, shape.heads, time, headWidth]).transpose([0, 2, 1, 3]).reshape([batch * time, shape.heads * headWidth]);
}

/**
 * Each (sequence, part) matrix of t [sequences, parts, rows, cols] as its own [rows, cols] tensor,
 * read from the backend once and uploaded piece by piece. On WASM this is what takes a tensor
 * apart fast: its gather costs about 45 ns per element, and its slice and split copy the whole
 * input out of the heap for every piece (measured on [8, 12, 256, 64]: 96 gathers 70 ms, one read
 * and 96 uploads 15 ms).
 */
function piecesOf(t: tf.Tensor4D): tf.Tensor2D[] {
  const [sequences, parts, rows, cols] = t.shape;
  const data = t.dataSync() as Float32Array;
  const size = rows * cols;
  return Array.from({ length: sequences * parts }, (_, i) => tf.tensor2d(data.subarray(i * size, (i + 1) * size), [rows, cols]));
}

/**
 * Causal multi-head self-attention of packed queries, keys and values: qkv [batch·time, 3·width]
 * (q, k, v side by side, heads side by side within each) to [batch·time, width]. `masks` are the
 * additive masks [time, time]: one per head, or one for every head.
 *
 * On `native` it is tf.js's ops with their derived gradient. On `plain-2d` (WASM, see MatMulMode)
 * it is one op with a hand-written gradient, made of plain 2-D products per sequence and head
 * (WASM's batched and transposed products are its slow ones), where every per-head matrix is its
 * own tensor from the start (see piecesOf) and only rank-4 transposes are used (WASM transposes
 * rank 5 about 40x slower). Forward S = QKᵀ·scale + mask, P = softmax(S), O = PV; backward
 * dVᵀ = dOᵀ·P, dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P))·scale, dQ = dS·K, dKᵀ = Qᵀ·dS.
 */
export function causalAttention(mode: MatMulMode, qkv: tf.Tensor2D, masks: readonly tf.Tensor2D[], shape: AttentionShape): tf.Tensor2D {
  const { batch, time, heads, headWidth } = shape;
  const width = heads * headWidth;
  const scale = 1 / Math.sqrt(headWidth);

  if (mode === 'native') {
    const [q, k, v] = tf.split(headsOf(qkv, shape), 3, 0) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    // [batch·heads, time, time] seen as [batch, heads, time, time], so that a mask per head broadcasts over the batch.
    const scores = tf.matMul(q, k, false, true).mul(scale).reshape([batch, heads, time, time]).add(tf.stack(masks as tf.Tensor2D[]));
    return mergeHeads(tf.matMul(tf.softmax(scores.reshape([batch * heads, time, time])), v), shape);
  }

  /** Group g = (sequence b, head h) in every per-group list; qkv's pieces are per b: q heads, k heads, v heads. */
  const groups = Array.from({ length: batch * heads }, (_, g) => ({ b: Math.floor(g / heads), h: g % heads }));
  const stacked = (pieces: tf.Tensor2D[], rows: number, cols: number): tf.Tensor4D => tf.stack(pieces).reshape([batch, heads, rows, cols]);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const pieces = piecesOf(input.reshape([batch, time, 3 * heads, headWidth]).transpose([0, 2, 1, 3]));
    const q = groups.map(({ b, h }) => pieces[b * 3 * heads + h]!);
    const k = groups.map(({ b, h }) => pieces[b * 3 * heads + heads + h]!);
    const v = groups.map(({ b, h }) => pieces[b * 3 * heads + 2 * heads + h]!);
    const weights = groups.map(({ h }, g) => tf.softmax(plain(q[g]!, k[g]!.transpose()).mul(scale).add(masks[h % masks.length]!)) as tf.Tensor2D);
    const output = tf.stack(weights.map((p, g) => plain(p, v[g]!)));
    save([...q, ...k, ...v, ...weights]);
    return {
      value: mergeHeads(output, shape),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const n = groups.length;
        const [qs, ks, vs, ps] = [0, 1, 2, 3].map((i) => saved.slice(i * n, (i + 1) * n) as tf.Tensor2D[]) as [tf.Tensor2D[], tf.Tensor2D[], tf.Tensor2D[], tf.Tensor2D[]];
        const dOut = piecesOf((dy as tf.Tensor).reshape([batch, time, heads, headWidth]).transpose([0, 2, 1, 3]));
        const dQ: tf.Tensor2D[] = [];
        // dK and dV are made transposed (dKᵀ = Qᵀ·dS, dVᵀ = dOᵀ·P) so that no [time, time] matrix is transposed.
        const dKT: tf.Tensor2D[] = [];
        const dVT: tf.Tensor2D[] = [];
        for (let g = 0; g < n; g += 1) {
          const p = ps[g]!;
          const dP = plain(dOut[g]!, vs[g]!.transpose());
          const dS = p.mul(dP.sub(dP.mul(p).sum(1, true))).mul(scale);
          dQ.push(plain(dS, ks[g]!));
          dKT.push(plain(qs[g]!.transpose(), dS));
          dVT.push(plain(dOut[g]!.transpose(), p));
        }
        const dRows = tf.concat([
          stacked(dQ, time, headWidth),
          stacked(dKT, headWidth, time).transpose([0, 1, 3, 2]),
          stacked(dVT, headWidth, time).transpose([0, 1, 3, 2]),
        ], 1);
        // [batch, 3·heads, time, headWidth] back to qkv's [batch·time, 3·width].
        return [dRows.transpose([0, 2, 1, 3]).reshape([batch * time, 3 * width])];
      },
    };
  });
  return op(qkv) as tf.Tensor2D;
}
