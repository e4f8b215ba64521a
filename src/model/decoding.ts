import * as tf from '@tensorflow/tfjs';
import { BYTE_TOKENIZER } from './tokenizer.js';
import type { Transformer } from './transformer.js';

const NEWLINE = 0x0a;

export interface GreedyOptions {
  /** Most tokens generated per prompt. */
  maxNewTokens: number;
  /** Stop a prompt's generation after a newline (one trace record); end-of-text always stops it. */
  stopAtNewline: boolean;
  /** Prompts decoded together in one forward pass. */
  batchRows?: number;
}

/**
 * Greedy decoding (argmax at every step) of several prompts at once. Each step runs the model on
 * the last `contextTokens` tokens of every unfinished prompt (right-padded to the longest) and
 * reads the logits at each one's last position. There is no key/value cache: a step costs a full
 * forward pass, which is what evaluation on short records can afford.
 *
 * Returns the generated tokens per prompt, without the stop token.
 */
export function greedyContinue(model: Transformer, prompts: readonly ArrayLike<number>[], options: GreedyOptions): Uint16Array[] {
  const context = model.config.contextTokens;
  const batchRows = options.batchRows ?? 32;
  const results: Uint16Array[] = [];
  for (let first = 0; first < prompts.length; first += batchRows) {
    const group = prompts.slice(first, first + batchRows).map((p) => Array.from(p));
    const generated: number[][] = group.map(() => []);
    const done = group.map(() => false);
    for (let step = 0; step < options.maxNewTokens && done.some((d) => !d); step += 1) {
      const active = group.map((_, i) => i).filter((i) => !done[i]);
      const windows = active.map((i) => {
        const sequence = group[i]!.concat(generated[i]!);
        return sequence.slice(Math.max(0, sequence.length - context));
      });
      const time = Math.max(1, ...windows.map((w) => w.length));
      const flat = new Int32Array(active.length * time);
      windows.forEach((w, row) => flat.set(w, row * time));
      const lastPositions = windows.map((w, row) => row * time + Math.max(0, w.length - 1));
      const next = tf.tidy(() => {
        const logits = model.logits(tf.tensor2d(flat, [active.length, time], 'int32'));
        return tf.gather(logits, tf.tensor1d(lastPositions, 'int32')).argMax(1);
      });
      const chosen = next.dataSync();
      next.dispose();
      active.forEach((i, row) => {
        const token = chosen[row]!;
        if (token === BYTE_TOKENIZER.endOfText) {
          done[i] = true;
          return;
        }
        generated[i]!.push(token);
        if (options.stopAtNewline && token === NEWLINE) {
          generated[i]!.pop();
          done[i] = true;
        }
      });
    }
    results.push(...generated.map((g) => Uint16Array.from(g)));
  }
  return results;
}
