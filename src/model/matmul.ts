import * as tf from '@tensorflow/tfjs';

/**
 * Which matmul kernels a backend runs fast. `native`: every form (transposed operands, batches) has
 * a fast kernel, so tf.js's own ops and gradients are used as they are. `plain-2d`: only a plain
 * 2-D product A·B is fast. That is the WASM backend, whose XNNPACK kernel serves a 2-D product
 * without transpose flags; transposed operands and batched products fall back to a scalar loop,
 * measured 4–20× slower (2048×256 · 256×256: 6.7 GFLOP/s plain, 1.0 with transposeB, 0.35 with
 * transposeA, 0.6–0.8 batched). tf.js's matmul gradients use the transpose flags, so on such a
 * backend the model's products (and their gradients) are written as explicit transposes followed
 * by plain 2-D products.
 */
export type MatMulMode = 'native' | 'plain-2d';

export type Activation = 'linear' | 'relu';

/** A·B for 2-D operands without transpose flags (the fast kernel on every backend). */
export function plain(a: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  return tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
}

/**
 * Column sums of a [n, m] matrix as [m]: a bias's gradient. On WASM a sum over axis 0 transposes
 * first (measured 29 ms for [2048, 1024]); the same sum as ones[1, n]·a is a plain product (0.4 ms).
 */
function columnSums(a: tf.Tensor2D): tf.Tensor1D {
  return plain(tf.ones([1, a.shape[0]]), a).reshape([a.shape[1]]);
}

/**
 * `value(inputs)` with the gradient `gradients(dy, inputs, value)` (one per input) in place of
 * the one tf.js would derive: tf.customGrad with its types pinned down in one place.
 */
function withGradient<T extends tf.Tensor>(
  inputs: tf.Tensor[],
  value: (inputs: tf.Tensor[]) => T,
  gradients: (dy: tf.Tensor, inputs: tf.Tensor[], value: tf.Tensor) => tf.Tensor[],
): T {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const ins = args as tf.Tensor[];
    const out = value(ins);
    save([...ins, out]);
    return {
      value: out,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => gradients(dy as tf.Tensor, saved.slice(0, -1), saved.at(-1)!),
    };
  });
  return op(...inputs) as T;
}

/** a·b for a [n, k], b [k, m]; on `plain-2d` its gradient is da = dy·bᵀ, db = aᵀ·dy, both plain. */
export function matMul2d(mode: MatMulMode, a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (mode === 'native') return tf.matMul(a, b);
  return withGradient([a, b], ([x, y]) => plain(x!, y!), (dy, [x, y]) => [plain(dy, y!.transpose()), plain(x!.transpose(), dy)]);
}

/**
 * x·w + bias (and a fused ReLU) for x [n, k], w [k, m]; on `plain-2d` its gradient is two plain
 * products of explicit transposes: dx = dy·wᵀ, dw = xᵀ·dy.
 */
export function linear(mode: MatMulMode, x: tf.Tensor2D, w: tf.Tensor2D, bias: tf.Tensor1D, activation: Activation = 'linear'): tf.Tensor2D {
  if (mode === 'native') return tf.fused.matMul({ a: x, b: w, bias, activation }) as tf.Tensor2D;
  return withGradient<tf.Tensor2D>(
    [x, w, bias],
    ([xi, wi, bi]) => tf.fused.matMul({ a: xi as tf.Tensor2D, b: wi as tf.Tensor2D, bias: bi!, activation }) as tf.Tensor2D,
    (dy, [xi, wi], y) => {
      // ReLU passes the gradient where its output is positive.
      const g: tf.Tensor = activation === 'relu' ? dy.mul(tf.step(y)) : dy;
      return [plain(g, wi!.transpose()), plain(xi!.transpose(), g), columnSums(g as tf.Tensor2D)];
    },
  );
}

/** x·wᵀ for x [n, k], w [m, k] (the output projection tied to the embedding table). */
export function matMulTransposedB(mode: MatMulMode, x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  if (mode === 'native') return tf.matMul(x, w, false, true);
  return withGradient([x, w], ([xi, wi]) => plain(xi!, wi!.transpose()), (dy, [xi, wi]) => [plain(dy, wi!), plain(dy.transpose(), xi!)]);
}
