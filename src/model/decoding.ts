import { KeyValueCache } from './kv-cache.js';
import { BYTE_TOKENIZER } from './tokenizer.js';
import type { Transformer } from './transformer.js';

const NEWLINE = 0x0a;

export interface GreedyOptions {
  /** Most tokens generated per prompt. */
  maxNewTokens: number;
  /** Stop a prompt's generation after a newline (one trace record); end-of-text always stops it. */
  stopAtNewline: boolean;
  /** Prompts decoded together, one cache row each. */
  batchRows?: number;
}

/**
 * Positions a decoding window leaves free when it starts again: a quarter of the context, or the
 * tokens wanted when fewer. With learned absolute positions a cached window cannot slide by one
 * token (every key would change; ALiBi's keys would not, but both use one rule, so that decoding
 * sees the same windows whatever the model); it grows until it holds `context` tokens, then starts again
 * with the text's last `context − room` tokens (one full pass), so every token is predicted from
 * at least that many tokens back, and a full pass is paid once per `room` tokens.
 */
export function windowRoom(context: number, maxNewTokens: number): number {
  return Math.max(1, Math.min(maxNewTokens, Math.ceil(context / 4)));
}

/** One prompt being decoded. */
interface Decoding {
  /** Every token so far, prompt and generated: a window that starts again is cut from it. */
  text: number[];
  generated: number[];
  /** The token the model chose last, not yet taken. */
  chosen: number;
}

/**
 * Greedy decoding (argmax at every step) of several prompts at once, with a key/value cache: one
 * forward pass over each prompt's last `contextTokens` tokens, then one position per generated
 * token (see windowRoom for what happens when the window is full). An empty prompt starts from
 * end-of-text, the token every run follows in training.
 *
 * Returns the generated tokens per prompt, without the stop token.
 */
export function greedyContinue(model: Transformer, prompts: readonly ArrayLike<number>[], options: GreedyOptions): Uint16Array[] {
  const context = model.config.contextTokens;
  const batchRows = options.batchRows ?? 32;
  const results: Uint16Array[] = [];
  for (let first = 0; first < prompts.length; first += batchRows) {
    const rows: Decoding[] = prompts.slice(first, first + batchRows).map((p) => ({
      text: p.length === 0 ? [BYTE_TOKENIZER.endOfText] : Array.from(p), generated: [], chosen: BYTE_TOKENIZER.endOfText,
    }));
    const cache = new KeyValueCache(model, rows.length);
    try {
      const windows = rows.map((row) => row.text.slice(Math.max(0, row.text.length - context)));
      const predicted = cache.fill(rows.map((_, i) => i), windows);
      rows.forEach((row, i) => {
        row.chosen = predicted[i]![windows[i]!.length - 1]!;
      });
      decode(cache, rows, options);
    } finally {
      cache.dispose();
    }
    results.push(...rows.map((row) => Uint16Array.from(row.generated)));
  }
  return results;
}

/**
 * What greedy decoding (stopping at a newline, at most `maxNewTokens`) generates after each prompt
 * when the true continuation `truths[i]` is known: one teacher-forced pass over prompt + truth
 * finds the first position where the argmax differs from the truth or its newline. Greedy decoding
 * makes exactly the truth's tokens up to there (each step sees the same window), so a record
 * predicted right costs that one pass; from the first difference on, decoding carries on in the
 * same window with the pass's keys and values, one position per token. The window ends at the
 * record's newline, so its first token sees `contextTokens` − (its length + 1) tokens back.
 */
export function greedyRecords(model: Transformer, prompts: readonly Uint8Array[], truths: readonly Uint8Array[], options: { maxNewTokens: number; batchRows: number }): Uint16Array[] {
  const context = model.config.contextTokens;
  const { maxNewTokens } = options;
  const results: (Uint16Array | undefined)[] = prompts.map(() => undefined);
  // A truth as long as the context, or one without a prompt token to predict its first token from, is decoded from its prompt alone.
  const fromPrompt: number[] = [];
  for (let first = 0; first < prompts.length; first += options.batchRows) {
    const batch = Array.from({ length: Math.min(options.batchRows, prompts.length - first) }, (_, k) => first + k);
    const forced = batch.filter((i) => prompts[i]!.length > 0 && truths[i]!.length < context);
    fromPrompt.push(...batch.filter((i) => !forced.includes(i)));
    if (forced.length === 0) continue;
    const predictions = predictForced(model, forced.map((i) => prompts[i]!), forced.map((i) => truths[i]!), maxNewTokens);
    forced.forEach((i, k) => {
      results[i] = predictions[k];
    });
  }
  const decoded = greedyContinue(model, fromPrompt.map((i) => prompts[i]!), { maxNewTokens, stopAtNewline: true, batchRows: options.batchRows });
  fromPrompt.forEach((i, k) => {
    results[i] = decoded[k]!;
  });
  return results.map((r) => r!);
}

/** greedyRecords for a batch of prompts whose truths fit a window behind them. */
function predictForced(model: Transformer, prompts: readonly Uint8Array[], truths: readonly Uint8Array[], maxNewTokens: number): Uint16Array[] {
  const context = model.config.contextTokens;
  const results: Uint16Array[] = [];
  const cache = new KeyValueCache(model, prompts.length);
  try {
    // Inputs: the last `context` tokens of prompt + truth; each position's target is the next token, the last one's the newline.
    const windows = prompts.map((prompt, i) => {
      const sequence = [...prompt, ...truths[i]!];
      return sequence.slice(Math.max(0, sequence.length - context));
    });
    const predicted = cache.fill(prompts.map((_, row) => row), windows);
    const unfinished: number[] = [];
    const rows: Decoding[] = [];
    truths.forEach((truth, row) => {
      // The window position whose prediction is the truth's first token.
      const firstInput = windows[row]!.length - truth.length - 1;
      let same = 0;
      while (same <= truth.length && predicted[row]![firstInput + same] === (same < truth.length ? truth[same] : NEWLINE)) same += 1;
      if (same === truth.length + 1 && truth.length < maxNewTokens) {
        results[row] = Uint16Array.from(truth);
      } else if (Math.min(same, truth.length) >= maxNewTokens) {
        results[row] = Uint16Array.from(truth.subarray(0, maxNewTokens));
      } else {
        // Decoding has made the truth's first `same` tokens and now chooses its own, in the same window.
        cache.truncate(row, firstInput + same + 1);
        unfinished.push(row);
        rows.push({ text: [...prompts[row]!, ...truth.subarray(0, same)], generated: Array.from(truth.subarray(0, same)), chosen: predicted[row]![firstInput + same]! });
      }
    });
    if (unfinished.length > 0) {
      cache.retain(unfinished);
      decode(cache, rows, { maxNewTokens, stopAtNewline: true });
      unfinished.forEach((row, k) => {
        results[row] = Uint16Array.from(rows[k]!.generated);
      });
    }
  } finally {
    cache.dispose();
  }
  return results;
}

/**
 * Greedy decoding of `rows` (cache row k is rows[k]), each with its first choice made: takes each
 * row's chosen token, stops the rows that are done, starts a full window again where needed,
 * and steps the others by one position, until every row is done.
 */
function decode(cache: KeyValueCache, rows: Decoding[], options: { maxNewTokens: number; stopAtNewline: boolean }): void {
  const { context } = cache;
  const room = windowRoom(context, options.maxNewTokens);
  let live = rows.map((_, k) => k);
  for (;;) {
    const going = live.map((_, k) => k).filter((k) => takeChosen(rows[live[k]!]!, options));
    if (going.length === 0) return;
    if (going.length < live.length) {
      cache.retain(going);
      live = going.map((k) => live[k]!);
    }
    const full = live.map((_, k) => k).filter((k) => cache.length(k) === context);
    // The new token is the text's last: the window starts again with the `context − room` tokens before it.
    cache.fill(full, full.map((k) => {
      const text = rows[live[k]!]!.text;
      return text.slice(text.length - 1 - (context - room), text.length - 1);
    }));
    const next = cache.step(live.map((r) => rows[r]!.text.at(-1)!));
    live.forEach((r, k) => {
      rows[r]!.chosen = next[k]!;
    });
  }
}

/** Takes a row's chosen token into its text; false when the row is done (end-of-text, its newline, or maxNewTokens made). */
function takeChosen(row: Decoding, options: { maxNewTokens: number; stopAtNewline: boolean }): boolean {
  if (row.generated.length >= options.maxNewTokens) return false;
  const token = row.chosen;
  if (token === BYTE_TOKENIZER.endOfText || (options.stopAtNewline && token === NEWLINE)) return false;
  row.generated.push(token);
  row.text.push(token);
  return row.generated.length < options.maxNewTokens;
}
