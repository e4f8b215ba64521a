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

/**
 * What greedy decoding (stopping at a newline, at most `maxNewTokens`) generates after each prompt
 * when the true continuation `truths[i]` is known: one teacher-forced forward pass over prompt +
 * truth + newline finds the first position where the argmax differs from the truth. Greedy
 * decoding makes exactly the truth's tokens up to there (each step sees the same prefix), so a
 * record predicted right costs one pass instead of one per token; from the first difference on,
 * greedyContinue carries on as decoding would. The pass's window ends at the record's newline, so
 * its first token sees `contextTokens` − (its length + 1) tokens back instead of `contextTokens`.
 */
export function greedyRecords(model: Transformer, prompts: readonly Uint8Array[], truths: readonly Uint8Array[], options: { maxNewTokens: number; batchRows: number }): Uint16Array[] {
  const context = model.config.contextTokens;
  const results: (Uint16Array | undefined)[] = prompts.map(() => undefined);
  const resume: { index: number; prefix: number[] }[] = [];
  for (let first = 0; first < prompts.length; first += options.batchRows) {
    const indices = Array.from({ length: Math.min(options.batchRows, prompts.length - first) }, (_, k) => first + k);
    const sequences = indices.map((i) => [...prompts[i]!, ...truths[i]!, NEWLINE]);
    // Inputs: the last `context` tokens before the final newline; targets: the same shifted by one.
    const windows = sequences.map((s) => s.slice(Math.max(0, s.length - 1 - context)));
    const time = Math.max(...windows.map((w) => w.length - 1));
    const flat = new Int32Array(indices.length * time).fill(BYTE_TOKENIZER.endOfText);
    windows.forEach((w, row) => flat.set(w.slice(0, -1), row * time));
    const argmax = tf.tidy(() => model.logits(tf.tensor2d(flat, [indices.length, time], 'int32')).argMax(1));
    const predicted = argmax.dataSync();
    argmax.dispose();
    indices.forEach((i, row) => {
      const truth = truths[i]!;
      const w = windows[row]!;
      const checked = truth.length + 1;
      if (checked > w.length - 1) {
        // The record does not fit in the window behind its prompt: plain greedy decoding.
        resume.push({ index: i, prefix: [] });
        return;
      }
      // Positions (in the window's targets) of the truth's tokens and its newline.
      const firstTarget = w.length - 1 - checked;
      let same = 0;
      while (same < checked && predicted[row * time + firstTarget + same] === w[firstTarget + same + 1]) same += 1;
      const truthMatched = Math.min(same, truth.length);
      if (same === truth.length + 1 && truth.length < options.maxNewTokens) {
        results[i] = Uint16Array.from(truth);
        return;
      }
      const prefix = Array.from(truth.subarray(0, truthMatched));
      if (same < checked && truthMatched < options.maxNewTokens) {
        // The first token decoding makes differently: it ends the record or starts its own continuation.
        const token = predicted[row * time + firstTarget + same]!;
        if (token === BYTE_TOKENIZER.endOfText || token === NEWLINE) {
          results[i] = Uint16Array.from(prefix);
          return;
        }
        prefix.push(token);
      }
      if (prefix.length >= options.maxNewTokens) results[i] = Uint16Array.from(prefix.slice(0, options.maxNewTokens));
      else resume.push({ index: i, prefix });
    });
  }
  // Records cut at maxNewTokens tokens, and those longer than the window, go on by plain greedy decoding.
  const continued = greedyContinue(model, resume.map((r) => [...prompts[r.index]!, ...r.prefix]), { maxNewTokens: options.maxNewTokens, stopAtNewline: true, batchRows: options.batchRows });
  resume.forEach((r, k) => {
    results[r.index] = Uint16Array.from([...r.prefix, ...continued[k]!].slice(0, options.maxNewTokens));
  });
  return results.map((r) => r!);
}
