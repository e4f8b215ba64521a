import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { TracestreamError, describeError } from '../errors/index.js';
import type { EvaluationRun } from './evaluation.js';
import type { OptimizerConfig } from './optimizer.js';
import { AdamW } from './optimizer.js';
import type { BatchPackerState } from './packing.js';
import { checkTokenizerSpec, type TokenizerSpec } from './tokenizer.js';
import { Transformer, type ModelKernels, type ModelConfig } from './transformer.js';

/** Next offset to read, per topic and partition: where a restarted consumer resumes. */
export type PartitionOffsets = Record<string, Record<string, number>>;

/** The small, human-readable part of a checkpoint (`meta.json`). */
export interface CheckpointMeta {
  format: 1;
  savedAtMs: number;
  step: number;
  tokensTrained: number;
  model: ModelConfig;
  tokenizer: TokenizerSpec;
  optimizer: { config: OptimizerConfig; step: number };
  offsets: PartitionOffsets;
  /** Name and shape of each variable, in the order of `weights.bin` and of each half of `optimizer.bin`. */
  variables: { name: string; shape: number[] }[];
}

/** The trainer's consumed-but-untrained state (`state.json`), so a resumed run loses and repeats nothing. */
export interface TrainerState {
  packer: BatchPackerState;
  evaluationRuns: EvaluationRun[];
  recordFrequencies: [string, number][];
}

export interface LoadedCheckpoint {
  path: string;
  meta: CheckpointMeta;
  state: TrainerState;
  weights: Float32Array[];
  firstMoments: Float32Array[];
  secondMoments: Float32Array[];
}

const LATEST = 'LATEST';
const KEEP = 2;

/**
 * Writes a checkpoint under `dir` atomically: every file goes into a fresh hidden folder, is
 * fsynced, the folder is renamed to `ckpt-<step>-<time>`, and only then the `LATEST` file (itself
 * written to a temporary name and renamed) points at it. A crash at any point leaves `LATEST`
 * naming a complete checkpoint (or none). The two newest checkpoints are kept.
 *
 * Returns the checkpoint's folder name.
 */
export async function saveCheckpoint(
  dir: string,
  model: Transformer,
  optimizer: AdamW,
  meta: Omit<CheckpointMeta, 'format' | 'savedAtMs' | 'model' | 'optimizer' | 'variables'>,
  state: TrainerState,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const savedAtMs = Date.now();
  const name = `ckpt-${String(meta.step).padStart(10, '0')}-${savedAtMs}`;
  const staging = join(dir, `.staging-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(staging);
  try {
    const full: CheckpointMeta = {
      format: 1, savedAtMs, ...meta, model: model.config,
      optimizer: { config: optimizer.config, step: optimizer.step },
      variables: model.variables.map((v, i) => ({ name: model.variableNames[i]!, shape: v.shape })),
    };
    await writeDurably(join(staging, 'weights.bin'), await tensorBytes(model.variables));
    await writeDurably(join(staging, 'optimizer.bin'), await tensorBytes([...optimizer.firstMoments, ...optimizer.secondMoments]));
    await writeDurably(join(staging, 'state.json'), Buffer.from(JSON.stringify(state)));
    await writeDurably(join(staging, 'meta.json'), Buffer.from(JSON.stringify(full, null, 2)));
    await syncDir(staging);
    await rename(staging, join(dir, name));
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  const pointer = join(dir, `.${LATEST}-${process.pid}`);
  await writeDurably(pointer, Buffer.from(`${name}\n`));
  await rename(pointer, join(dir, LATEST));
  await syncDir(dir);
  await pruneOld(dir, name);
  return name;
}

async function tensorBytes(tensors: readonly tf.Tensor[]): Promise<Buffer> {
  const parts = await Promise.all(tensors.map(async (t) => Buffer.from(((await t.data()) as Float32Array).buffer)));
  return Buffer.concat(parts);
}

async function writeDurably(path: string, bytes: Buffer): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function pruneOld(dir: string, current: string): Promise<void> {
  const entries = await readdir(dir);
  const checkpoints = entries.filter((e) => e.startsWith('ckpt-')).sort();
  for (const old of checkpoints.slice(0, Math.max(0, checkpoints.length - KEEP))) {
    if (old !== current) await rm(join(dir, old), { recursive: true, force: true });
  }
  // Staging folders of processes that died mid-write.
  for (const stale of entries.filter((e) => e.startsWith('.staging-') && !e.startsWith(`.staging-${process.pid}-`))) {
    await rm(join(dir, stale), { recursive: true, force: true });
  }
}

/** The checkpoint `LATEST` names under `dir`, or null when there is none yet. */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint | null> {
  let name: string;
  try {
    name = (await readFile(join(dir, LATEST), 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new TracestreamError('CHECKPOINT_INVALID', `cannot read ${join(dir, LATEST)}: ${describeError(error)}`, { cause: error });
  }
  const path = join(dir, name);
  try {
    const meta = JSON.parse(await readFile(join(path, 'meta.json'), 'utf8')) as CheckpointMeta;
    if (meta.format !== 1) throw new Error(`unknown checkpoint format ${String(meta.format)}`);
    // Checkpoints written before ALiBi became the default name no `positions`: theirs were learned.
    meta.model = { ...meta.model, positions: meta.model.positions ?? 'learned' };
    checkTokenizerSpec(meta.tokenizer);
    const state = JSON.parse(await readFile(join(path, 'state.json'), 'utf8')) as TrainerState;
    const sizes = meta.variables.map((v) => v.shape.reduce((a, b) => a * b, 1));
    const weights = splitFloats(await readFile(join(path, 'weights.bin')), sizes, 'weights.bin');
    const moments = splitFloats(await readFile(join(path, 'optimizer.bin')), [...sizes, ...sizes], 'optimizer.bin');
    return { path, meta, state, weights, firstMoments: moments.slice(0, sizes.length), secondMoments: moments.slice(sizes.length) };
  } catch (error) {
    if (error instanceof TracestreamError) throw error;
    throw new TracestreamError('CHECKPOINT_INVALID', `checkpoint ${path} cannot be read: ${describeError(error)}`, { cause: error, details: { path } });
  }
}

function splitFloats(bytes: Buffer, sizes: readonly number[], file: string): Float32Array[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (bytes.length !== total * 4) throw new Error(`${file} holds ${bytes.length} bytes, the variables need ${total * 4}`);
  // Copied out so that the arrays are aligned and independent of the file buffer.
  const all = new Float32Array(total);
  new Uint8Array(all.buffer).set(bytes);
  const out: Float32Array[] = [];
  let at = 0;
  for (const size of sizes) {
    out.push(all.subarray(at, at + size));
    at += size;
  }
  return out;
}

/** Puts a loaded checkpoint's weights and optimizer state into a model and optimizer of the same shape. */
export function restoreCheckpoint(loaded: LoadedCheckpoint, model: Transformer, optimizer: AdamW): void {
  const expected = model.variables.map((v, i) => `${model.variableNames[i]}${JSON.stringify(v.shape)}`).join(',');
  const saved = loaded.meta.variables.map((v) => `${v.name}${JSON.stringify(v.shape)}`).join(',');
  if (expected !== saved) {
    throw new TracestreamError('CHECKPOINT_INVALID', `checkpoint ${loaded.path} holds another model shape than the one configured`, { details: { path: loaded.path } });
  }
  const put = (targets: readonly tf.Variable[], values: readonly Float32Array[]): void => {
    targets.forEach((target, i) => tf.tidy(() => target.assign(tf.tensor(values[i]!, target.shape, 'float32'))));
  };
  put(model.variables, loaded.weights);
  put(optimizer.firstMoments, loaded.firstMoments);
  put(optimizer.secondMoments, loaded.secondMoments);
  optimizer.step = loaded.meta.optimizer.step;
}

/** The model of the latest checkpoint under `dir`, for inference (generate). */
export async function openModel(dir: string, kernels: ModelKernels): Promise<Transformer> {
  const loaded = await loadCheckpoint(dir);
  if (loaded === null) throw new TracestreamError('CHECKPOINT_INVALID', `${dir} holds no checkpoint (no LATEST file); train one with \`tracestream train --checkpoint ${dir}\``);
  const model = new Transformer(loaded.meta.model, kernels);
  const optimizer = new AdamW(model.variables, loaded.meta.optimizer.config);
  restoreCheckpoint(loaded, model, optimizer);
  optimizer.dispose();
  return model;
}
