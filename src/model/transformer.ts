import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { TracestreamError } from '../errors/index.js';
import { causalAttention } from './attention.js';
import { linear, matMul2d, matMulTransposedB, type MatMulMode } from './matmul.js';
import { BYTE_TOKENIZER } from './tokenizer.js';

/** The shape of the model: one schema gives the type and the runtime check. */
export const modelConfigSchema = z.object({
  vocabSize: z.number().int().positive().default(BYTE_TOKENIZER.vocabSize),
  /** Longest sequence the model attends over (positions learned up to this). */
  contextTokens: z.number().int().min(8).max(8192).default(256),
  layers: z.number().int().min(1).max(64).default(4),
  /** Width of the residual stream (d_model). */
  width: z.number().int().min(8).max(8192).default(256),
  heads: z.number().int().min(1).max(128).default(4),
  /** Hidden units of each MLP per unit of width. */
  mlpRatio: z.number().int().min(1).max(8).default(4),
  /**
   * MLP non-linearity. `relu` is fused into the matmul (one kernel instead of about eight for the
   * tanh-approximated `gelu`), which matters on the CPU and WASM backends where elementwise ops
   * cost as much as the small matmuls they follow.
   */
  activation: z.enum(['relu', 'gelu']).default('relu'),
  /**
   * How the model knows where a token is. `learned`: a position table added to the token vectors
   * (GPT-2). `alibi`: no table; each head's attention score is lowered in proportion to the
   * distance back (Press et al., 2022), so attending to the token just before, the start of what
   * copies an earlier occurrence, needs nothing learned about positions.
   */
  positions: z.enum(['learned', 'alibi']).default('alibi'),
  seed: z.number().int().nonnegative().default(1),
}).refine((c) => c.width % c.heads === 0, { message: 'width must be a multiple of heads', path: ['width'] });

export type ModelConfig = z.output<typeof modelConfigSchema>;
export type ModelConfigInput = z.input<typeof modelConfigSchema>;

/**
 * How token ids become vectors. `gather` is the usual lookup; its gradient (UnsortedSegmentSum) is
 * not registered on the WASM backend, where `one-hot` (a [tokens, vocab] one-hot matrix times the
 * table) trains instead, at 2·vocab·width FLOPs per token.
 */
export type EmbeddingMode = 'gather' | 'one-hot';

/** How the model's ops are written for the backend it runs on (see EmbeddingMode, MatMulMode). */
export interface ModelKernels {
  embedding: EmbeddingMode;
  matMul: MatMulMode;
}

/** tf.js's own ops as they are: the lookup and every matmul form have fast kernels (native TensorFlow). */
export const NATIVE_KERNELS: ModelKernels = Object.freeze({ embedding: 'gather', matMul: 'native' });

function parseModelConfig(input: ModelConfigInput): ModelConfig {
  const parsed = modelConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TracestreamError('CONFIG_INVALID', `model config: ${issue.path.join('.') || '(root)'}: ${issue.message}`, { details: { field: issue.path.join('.') } });
  }
  return parsed.data;
}

interface Block {
  ln1Gain: tf.Variable; ln1Bias: tf.Variable;
  qkv: tf.Variable; qkvBias: tf.Variable;
  proj: tf.Variable; projBias: tf.Variable;
  ln2Gain: tf.Variable; ln2Bias: tf.Variable;
  up: tf.Variable; upBias: tf.Variable;
  down: tf.Variable; downBias: tf.Variable;
}

/**
 * A GPT-style decoder-only transformer: learned token and position embeddings, pre-norm blocks of
 * causal multi-head self-attention and an MLP, a final layer norm, and an output projection tied
 * to the token embedding. Written with TensorFlow.js ops (not tf.layers) so that its variables,
 * their order and names are ours to checkpoint.
 */
export class Transformer {
  readonly config: ModelConfig;
  readonly kernels: ModelKernels;
  /** Every trainable variable, in a fixed order (the checkpoint's order). */
  readonly variables: tf.Variable[] = [];
  /** The checkpoint's name of each variable, in the same order. */
  readonly variableNames: string[] = [];
  private readonly tokenTable: tf.Variable;
  /** Absent with ALiBi positions. */
  private readonly positionTable: tf.Variable | null;
  private readonly blocks: Block[] = [];
  private readonly finalGain: tf.Variable;
  private readonly finalBias: tf.Variable;
  /** Additive attention mask per head (one shared by all heads with learned positions) for the longest context; see attentionBias. */
  private readonly masks: tf.Tensor2D[];

  constructor(config: ModelConfigInput, kernels: ModelKernels = NATIVE_KERNELS) {
    this.config = parseModelConfig(config);
    this.kernels = kernels;
    const { vocabSize, contextTokens, width, layers, mlpRatio } = this.config;
    let seed = this.config.seed;
    const normal = (name: string, shape: number[], std: number): tf.Variable =>
      this.add(name, tf.randomNormal(shape, 0, std, 'float32', (seed += 1)));
    const filled = (name: string, shape: number[], value: number): tf.Variable => this.add(name, tf.fill(shape, value));
    // GPT-2's initialisation: N(0, 0.02), residual projections scaled down by sqrt(2 * layers).
    const residualStd = 0.02 / Math.sqrt(2 * layers);
    this.tokenTable = normal('token_embedding', [vocabSize, width], 0.02);
    this.positionTable = this.config.positions === 'learned' ? normal('position_embedding', [contextTokens, width], 0.01) : null;
    for (let l = 0; l < layers; l += 1) {
      this.blocks.push({
        ln1Gain: filled(`block${l}.ln1.gain`, [width], 1), ln1Bias: filled(`block${l}.ln1.bias`, [width], 0),
        qkv: normal(`block${l}.attention.qkv`, [width, 3 * width], 0.02), qkvBias: filled(`block${l}.attention.qkv_bias`, [3 * width], 0),
        proj: normal(`block${l}.attention.proj`, [width, width], residualStd), projBias: filled(`block${l}.attention.proj_bias`, [width], 0),
        ln2Gain: filled(`block${l}.ln2.gain`, [width], 1), ln2Bias: filled(`block${l}.ln2.bias`, [width], 0),
        up: normal(`block${l}.mlp.up`, [width, mlpRatio * width], 0.02), upBias: filled(`block${l}.mlp.up_bias`, [mlpRatio * width], 0),
        down: normal(`block${l}.mlp.down`, [mlpRatio * width, width], residualStd), downBias: filled(`block${l}.mlp.down_bias`, [width], 0),
      });
    }
    this.finalGain = filled('final_ln.gain', [width], 1);
    this.finalBias = filled('final_ln.bias', [width], 0);
    this.masks = (this.alibiSlopes() ?? [0]).map((slope) => {
      const mask = new Float32Array(contextTokens * contextTokens);
      for (let query = 0; query < contextTokens; query += 1) {
        for (let key = 0; key < contextTokens; key += 1) mask[query * contextTokens + key] = attentionBias(slope, query, key);
      }
      return tf.tensor2d(mask, [contextTokens, contextTokens]);
    });
  }

  private add(name: string, initial: tf.Tensor): tf.Variable {
    // tf.js variable names are unique per process: a prefix keeps two models (trainer, evaluator) apart.
    const variable = tf.variable(initial, true, `model${this.instance}/${name}`);
    initial.dispose();
    this.variables.push(variable);
    this.variableNames.push(name);
    return variable;
  }

  private static created = 0;
  private readonly instance = (Transformer.created += 1);

  /** Per head, how much its scores drop per token of distance (ALiBi's geometric slopes); null with learned positions. */
  alibiSlopes(): number[] | null {
    if (this.config.positions !== 'alibi') return null;
    const { heads } = this.config;
    return Array.from({ length: heads }, (_, h) => 2 ** (-8 * (h + 1) / heads));
  }

  /** Trainable parameters. */
  get parameterCount(): number {
    return this.variables.reduce((sum, v) => sum + v.size, 0);
  }

  /**
   * FLOPs of one token's forward and backward pass at full context: 6 per parameter used in a
   * matmul (the position table is only added, a gather embedding only looked up) plus attention's
   * scores and weighted sums, 12·layers·context·width (Kaplan et al., 2020).
   */
  flopsPerToken(contextTokens = this.config.contextTokens): number {
    const { vocabSize, width, layers } = this.config;
    const matmulParams = this.blocks.reduce((sum, b) => sum + b.qkv.size + b.proj.size + b.up.size + b.down.size, 0)
      + vocabSize * width * (this.kernels.embedding === 'one-hot' ? 2 : 1);
    return 6 * matmulParams + 12 * layers * contextTokens * width;
  }

  /**
   * Logits [batch * time, vocab] for int32 tokens [batch, time], time <= contextTokens, positions
   * from 0. `seeQkv` is shown each block's packed queries, keys and values [batch * time, 3 * width]
   * (what a KeyValueCache keeps); it runs inside this call's tidy, so what it keeps it must tf.keep.
   */
  logits(tokens: tf.Tensor2D, seeQkv?: (layer: number, qkv: tf.Tensor2D) => void): tf.Tensor2D {
    return tf.tidy(() => {
      const [batch, time] = tokens.shape;
      const { width, heads, contextTokens } = this.config;
      if (time > contextTokens) throw new TracestreamError('INPUT_INVALID', `sequence of ${time} tokens is longer than the model's context (${contextTokens})`);
      const embedded = this.embed(tokens.reshape([batch * time]));
      const x = this.positionTable === null
        ? embedded
        : embedded.reshape([batch, time, width]).add(this.positionTable.slice([0, 0], [time, width])).reshape([batch * time, width]) as tf.Tensor2D;
      const masks = this.masks.map((mask) => mask.slice([0, 0], [time, time]) as tf.Tensor2D);
      const shape = { batch, time, heads, headWidth: width / heads };
      return this.blocksAndHead(x, (layer, qkv) => {
        seeQkv?.(layer, qkv);
        return causalAttention(this.kernels.matMul, qkv, masks, shape);
      });
    });
  }

  /**
   * Logits [rows, vocab] of one new token per row, tokens[r] at position positions[r], where each
   * block's attention over the row's earlier positions is `attend`'s (a KeyValueCache): given the
   * layer and the new tokens' packed queries, keys and values [rows, 3 * width], it returns their
   * attention output [rows, width]. Per row, the same arithmetic as `logits` at that position.
   */
  logitsAt(tokens: tf.Tensor1D, positions: tf.Tensor1D, attend: (layer: number, qkv: tf.Tensor2D) => tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const embedded = this.embed(tokens);
      return this.blocksAndHead(this.positionTable === null ? embedded : embedded.add(tf.gather(this.positionTable, positions)) as tf.Tensor2D, attend);
    });
  }

  /** Token vectors [n, width] of int32 token ids [n]. */
  private embed(flat: tf.Tensor1D): tf.Tensor2D {
    return this.kernels.embedding === 'gather'
      ? tf.gather(this.tokenTable, flat) as tf.Tensor2D
      : matMul2d(this.kernels.matMul, tf.oneHot(flat, this.config.vocabSize) as tf.Tensor2D, this.tokenTable as tf.Tensor2D);
  }

  /** The residual stream x [n, width] through every block (attention by `attend`), the final norm and the tied output projection. */
  private blocksAndHead(input: tf.Tensor2D, attend: (layer: number, qkv: tf.Tensor2D) => tf.Tensor2D): tf.Tensor2D {
    const mode = this.kernels.matMul;
    let x = input;
    this.blocks.forEach((block, layer) => {
      const normed = layerNorm(x, block.ln1Gain, block.ln1Bias);
      const qkv = linear(mode, normed, block.qkv as tf.Tensor2D, block.qkvBias as tf.Tensor1D);
      x = x.add(linear(mode, attend(layer, qkv), block.proj as tf.Tensor2D, block.projBias as tf.Tensor1D));
      const normed2 = layerNorm(x, block.ln2Gain, block.ln2Bias);
      const hidden = this.config.activation === 'relu'
        ? linear(mode, normed2, block.up as tf.Tensor2D, block.upBias as tf.Tensor1D, 'relu')
        : gelu(linear(mode, normed2, block.up as tf.Tensor2D, block.upBias as tf.Tensor1D));
      x = x.add(linear(mode, hidden, block.down as tf.Tensor2D, block.downBias as tf.Tensor1D));
    });
    const final = layerNorm(x, this.finalGain, this.finalBias);
    return matMulTransposedB(mode, final, this.tokenTable as tf.Tensor2D);
  }

  /** Negative log-likelihood of each target token [batch * time], from tokens [batch, time]. */
  tokenLosses(inputs: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor1D {
    return tf.tidy(() => {
      const logProbs = tf.logSoftmax(this.logits(inputs));
      const picked = logProbs.mul(tf.oneHot(targets.reshape([-1]) as tf.Tensor1D, this.config.vocabSize)).sum(1);
      return picked.neg() as tf.Tensor1D;
    });
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
    tf.dispose(this.masks);
  }
}

/**
 * The additive attention mask of a query at `query` for the key at `key`: -1e9 for a later key
 * (exp() of it is exactly 0), otherwise -slope × distance. A float32 of the same expression
 * wherever it is made (full pass or key/value cache), so both see the same bits.
 */
export function attentionBias(slope: number, query: number, key: number): number {
  return key > query ? -1e9 : -slope * (query - key);
}

function layerNorm(x: tf.Tensor2D, gain: tf.Tensor, bias: tf.Tensor): tf.Tensor2D {
  const mean = x.mean(1, true);
  const centered = x.sub(mean);
  const variance = centered.square().mean(1, true);
  return centered.mul(variance.add(1e-5).rsqrt()).mul(gain).add(bias);
}

/** GPT-2's tanh approximation of GELU. */
function gelu(x: tf.Tensor2D): tf.Tensor2D {
  const inner = x.add(x.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
  return x.mul(0.5).mul(inner.tanh().add(1));
}
