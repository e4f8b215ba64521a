import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { TracestreamError, describeError } from '../errors/index.js';
import { NATIVE_KERNELS, type ModelKernels } from './transformer.js';

/**
 * The TensorFlow.js backends tracestream trains on, fastest first: native TensorFlow with CUDA
 * (`@tensorflow/tfjs-node-gpu`), native TensorFlow on the CPU (`@tensorflow/tfjs-node`), the WASM
 * backend (XNNPACK kernels, SIMD), the pure-JavaScript CPU backend.
 */
export const BACKENDS = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface ChosenBackend {
  name: BackendName;
  /** tf.js's own name of the backend (`tensorflow`, `wasm`, `cpu`). */
  tfName: string;
  /** How the model's embedding and matmuls are written for it (see ModelKernels). */
  kernels: ModelKernels;
  /** Why each faster backend was passed over. */
  skipped: { name: BackendName; reason: string }[];
}

const require = createRequire(import.meta.url);

/** Loads a backend and makes it tf.js's current one; throws with the reason when it cannot. */
async function activate(name: BackendName): Promise<string> {
  switch (name) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      // A variable specifier: these are optional dependencies, absent where libtensorflow could not be fetched.
      await import(pkg as string);
      if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but its backend did not initialise`);
      return 'tensorflow';
    }
    case 'wasm': {
      setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`);
      if (!(await tf.setBackend('wasm'))) throw new Error('the WASM backend did not initialise');
      return 'wasm';
    }
    case 'cpu':
      if (!(await tf.setBackend('cpu'))) throw new Error('the CPU backend did not initialise');
      return 'cpu';
  }
}

/**
 * Picks the first backend of `candidates` (default: all, fastest first) that loads here, makes it
 * the current one, and says why the others were skipped. `TRACESTREAM_BACKEND`-style choices come
 * in as a single candidate; then failing to load it is an error instead of a fallback.
 *
 * @example
 * const backend = await chooseBackend()
 * console.log(`training on ${backend.name}`, backend.skipped)
 */
export async function chooseBackend(candidates: readonly BackendName[] = BACKENDS): Promise<ChosenBackend> {
  const skipped: ChosenBackend['skipped'] = [];
  // Production mode: no debug checks, and no console banner urging tfjs-node on the CPU backend.
  tf.enableProdMode();
  for (const name of candidates) {
    try {
      const tfName = await activate(name);
      await tf.ready();
      return { name, tfName, kernels: kernelsFor(tfName), skipped };
    } catch (error) {
      skipped.push({ name, reason: describeError(error).split('\n')[0]! });
    }
  }
  throw new TracestreamError('BACKEND_UNAVAILABLE', `no TensorFlow.js backend could be loaded: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

/**
 * The gather's gradient (UnsortedSegmentSum) is missing on WASM and is the slowest kernel of a step
 * on the JS CPU backend (measured: 4x the next one); a one-hot matmul is fast on both. WASM's only
 * fast matmul is the plain 2-D one (see MatMulMode).
 */
function kernelsFor(tfName: string): ModelKernels {
  if (tfName === 'tensorflow') return NATIVE_KERNELS;
  return { embedding: 'one-hot', matMul: tfName === 'wasm' ? 'plain-2d' : 'native' };
}

export function parseBackendName(value: string): BackendName {
  if (!(BACKENDS as readonly string[]).includes(value)) {
    throw new TracestreamError('CONFIG_INVALID', `backend must be one of ${BACKENDS.join(', ')} or auto, got ${JSON.stringify(value)}`);
  }
  return value as BackendName;
}

/** One-line description for logs: `wasm (skipped tensorflow-gpu: Cannot find module …)`. */
export function describeBackend(backend: ChosenBackend): string {
  const skipped = backend.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  return skipped === '' ? backend.name : `${backend.name} (skipped ${skipped})`;
}
