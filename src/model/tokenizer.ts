import { TracestreamError } from '../errors/index.js';

/**
 * Byte-level tokenizer: a token is one UTF-8 byte (0..255), plus one end-of-text token between
 * runs. It needs no vocabulary file (nothing is downloaded), never meets an unknown symbol in
 * attacker-controlled reprs, and keeps the compact format's TABs, digits and sigils as they are,
 * which a learned BPE would merge differently from run to run.
 */
export const BYTE_TOKENIZER = Object.freeze({ kind: 'bytes' as const, vocabSize: 257, endOfText: 256 });

export type TokenizerSpec = typeof BYTE_TOKENIZER;

/** One run's training text as tokens, with which of them belong to the trace (not the source header). */
export interface TokenizedRun {
  tokens: Uint16Array;
  /** 1 where the token is part of the trace records (and the end record), 0 in the source header. */
  isTrace: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

export function checkTokenizerSpec(spec: unknown): TokenizerSpec {
  const s = spec as Partial<TokenizerSpec> | null;
  if (s?.kind !== BYTE_TOKENIZER.kind || s.vocabSize !== BYTE_TOKENIZER.vocabSize || s.endOfText !== BYTE_TOKENIZER.endOfText) {
    throw new TracestreamError('CHECKPOINT_INVALID', `unknown tokenizer ${JSON.stringify(spec)}; this build has ${JSON.stringify(BYTE_TOKENIZER)}`);
  }
  return BYTE_TOKENIZER;
}

export function encodeText(text: string): Uint16Array {
  return Uint16Array.from(encoder.encode(text));
}

/** Bytes back to text; the end-of-text token ends it, and invalid UTF-8 becomes U+FFFD. */
export function decodeTokens(tokens: ArrayLike<number>): string {
  const bytes: number[] = [];
  for (let i = 0; i < tokens.length; i += 1) {
    const token = tokens[i]!;
    if (token === BYTE_TOKENIZER.endOfText) break;
    bytes.push(token);
  }
  return decoder.decode(Uint8Array.from(bytes));
}

/**
 * Length in bytes of the compact text's source header (`src N` and N numbered lines), 0 when it
 * has none. Everything after it is trace.
 */
export function sourceHeaderBytes(compactText: string): number {
  const header = /^src (\d+)\n/.exec(compactText);
  if (header === null) return 0;
  let at = header[0].length;
  for (let n = Number(header[1]); n > 0; n -= 1) {
    const end = compactText.indexOf('\n', at);
    if (end < 0) return Buffer.byteLength(compactText);
    at = end + 1;
  }
  return Buffer.byteLength(compactText.slice(0, at));
}

/** A run's compact text as tokens followed by end-of-text; the header's bytes are marked as source. */
export function tokenizeRun(compactText: string): TokenizedRun {
  const bytes = encodeText(compactText);
  const tokens = new Uint16Array(bytes.length + 1);
  tokens.set(bytes);
  tokens[bytes.length] = BYTE_TOKENIZER.endOfText;
  const isTrace = new Uint8Array(tokens.length).fill(1);
  isTrace.fill(0, 0, sourceHeaderBytes(compactText));
  return { tokens, isTrace };
}
