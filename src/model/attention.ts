import * as tf from '@tensorflow/tfjs';
import { group, plain, type MatMulMode } from './matmul.js';

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
 * Causal multi-head self-attention of packed queries, keys and values: qkv [batch·time, 3·width]
 * (q, k, v side by side, heads side by side within each) to [batch·time, width]. `mask` is the
 * additive causal mask [time, time].
 *
 * On `native` it is tf.js's ops with their derived gradient. On `plain-2d` (WASM, see MatMulMode)
 * it is one op with a hand-written gradient, made of plain 2-D products per sequence and head:
 * WASM's batched and transposed products are its slow ones, and splitting qkv with its slice
 * copies the whole tensor per piece. Forward S = QKᵀ·scale + mask, P = softmax(S), O = PV;
 * backward dVᵀ = dOᵀ·P, dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P))·scale, dQ = dS·K, dKᵀ = Qᵀ·dS.
 */
export function causalAttention(mode: MatMulMode, qkv: tf.Tensor2D, mask: tf.Tensor2D, shape: AttentionShape): tf.Tensor2D {
  const { batch, time, heads, headWidth } = shape;
  const width = heads * headWidth;
  const groups = batch * heads;
  const scale = 1 / Math.sqrt(headWidth);

  if (mode === 'native') {
    const [q, k, v] = tf.split(headsOf(qkv, shape), 3, 0) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    const scores = tf.matMul(q, k, false, true).mul(scale).add(mask);
    return mergeHeads(tf.matMul(tf.softmax(scores), v), shape);
  }

  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const rows = headsOf(input, shape);
    // Each group's matrix transposed, for the products that need Kᵀ (and Qᵀ, Vᵀ backward).
    const columns = rows.transpose([0, 2, 1]);
    const scores = tf.stack(Array.from({ length: groups }, (_, g) => plain(group(rows, g), group(columns, groups + g))));
    const weights = tf.softmax(scores.mul(scale).add(mask));
    // Each group's weights are taken out once and kept for the backward pass.
    const weightsOf = Array.from({ length: groups }, (_, g) => group(weights, g));
    const output = tf.stack(weightsOf.map((p, g) => plain(p, group(rows, 2 * groups + g))));
    save([rows, columns, weights, ...weightsOf]);
    return {
      value: mergeHeads(output, shape),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [q, qT, p, ...pOf] = saved as tf.Tensor3D[];
        const perHead = (dy as tf.Tensor).reshape([batch, time, heads, headWidth]);
        const dOut = perHead.transpose([0, 2, 1, 3]).reshape([groups, time, headWidth]);
        const dOutT = perHead.transpose([0, 2, 3, 1]).reshape([groups, headWidth, time]);
        const dP = tf.stack(Array.from({ length: groups }, (_, g) => plain(group(dOut, g), group(qT!, 2 * groups + g))));
        const dS = p!.mul(dP.sub(dP.mul(p!).sum(2, true))).mul(scale);
        const dQ: tf.Tensor2D[] = [];
        // dK and dV are made transposed (dKᵀ = Qᵀ·dS, dVᵀ = dOᵀ·P) so that no [time, time] matrix is transposed.
        const dKT: tf.Tensor2D[] = [];
        const dVT: tf.Tensor2D[] = [];
        for (let g = 0; g < groups; g += 1) {
          const dSg = group(dS, g);
          dQ.push(plain(dSg, group(q!, groups + g)));
          dKT.push(plain(group(qT!, g), dSg));
          dVT.push(plain(group(dOutT, g), pOf[g] as unknown as tf.Tensor2D));
        }
        const dRows = tf.concat([tf.stack(dQ), tf.stack([...dKT, ...dVT]).transpose([0, 2, 1])]);
        // Back from [3·groups, time, headWidth] to qkv's [batch·time, 3·width].
        return [dRows.reshape([3, batch, heads, time, headWidth]).transpose([1, 3, 0, 2, 4]).reshape([batch * time, 3 * width])];
      },
    };
  });
  return op(qkv) as tf.Tensor2D;
}
