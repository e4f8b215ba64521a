import { greedyContinue } from './decoding.js';
import { traceRecords } from './evaluation.js';
import { decodeTokens, encodeText, sourceHeaderBytes } from './tokenizer.js';
import type { Transformer } from './transformer.js';

/** The model's trace of a program next to the interpreter's. */
export interface Imitation {
  sourceHeader: string;
  truth: string[];
  predicted: string[];
  /** Index of the first record where they differ, or null when the model matched every one. */
  partedAt: number | null;
}

/**
 * The interpreter-imitation demo: given only the program (the compact header), the model writes
 * the trace on its own, greedily, record after record, until it ends the run or writes `maxTokens`.
 */
export function imitate(model: Transformer, compactText: string, maxTokens: number): Imitation {
  const headerBytes = sourceHeaderBytes(compactText);
  const bytes = Buffer.from(compactText, 'utf8');
  const sourceHeader = bytes.subarray(0, headerBytes).toString('utf8');
  const [generated] = greedyContinue(model, [encodeText(sourceHeader)], { maxNewTokens: maxTokens, stopAtNewline: false, batchRows: 1 });
  const predictedText = decodeTokens(generated!);
  const predicted = predictedText.split('\n');
  if (predicted[predicted.length - 1] === '') predicted.pop();
  const truth = traceRecords(compactText).map((r) => r.text);
  let partedAt: number | null = null;
  for (let i = 0; i < Math.max(truth.length, predicted.length); i += 1) {
    if (truth[i] !== predicted[i]) {
      partedAt = i;
      break;
    }
  }
  return { sourceHeader, truth, predicted, partedAt };
}

/** Two columns, real on the left, predicted on the right; `≠` marks every differing record, `▶` where they part. */
export function renderImitation(imitation: Imitation, columnChars = 48): string {
  const clip = (s: string): string => {
    const visible = s.replace(/\t/g, '⇥');
    return visible.length > columnChars ? `${visible.slice(0, columnChars - 1)}…` : visible.padEnd(columnChars);
  };
  const lines = [imitation.sourceHeader.trimEnd(), '', `   ${'real trace'.padEnd(columnChars)}   predicted`];
  const rows = Math.max(imitation.truth.length, imitation.predicted.length);
  for (let i = 0; i < rows; i += 1) {
    const real = imitation.truth[i] ?? '';
    const guess = imitation.predicted[i] ?? '';
    const mark = i === imitation.partedAt ? '▶≠' : real === guess ? '  ' : ' ≠';
    lines.push(`${mark} ${clip(real)} │ ${clip(guess)}`);
  }
  lines.push('');
  lines.push(imitation.partedAt === null
    ? `the model reproduced all ${imitation.truth.length} records`
    : `the model matched the first ${imitation.partedAt} of ${imitation.truth.length} records, then parted`);
  return `${lines.join('\n')}\n`;
}
