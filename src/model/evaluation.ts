import type { StateAccuracyRecord } from '../avro/index.js';
import { greedyRecords } from './decoding.js';
import type { PackedBatch } from './packing.js';
import { lossesOf } from './step.js';
import { BYTE_TOKENIZER, decodeTokens, sourceHeaderBytes, tokenizeRun, type TokenizedRun } from './tokenizer.js';
import type { Transformer } from './transformer.js';

/** A held-out run: its compact text (source header + trace) and where its trace records start. */
export interface EvaluationRun {
  runId: string;
  problemId: string;
  text: string;
}

/** Accuracy of one predictor of the next trace record: the shape the ModelMetrics event carries. */
export type StateAccuracy = StateAccuracyRecord;

export interface EvaluationResult {
  runs: number;
  /** Mean loss (nats per token) on trace tokens, and its perplexity; null with no trace tokens. */
  traceLoss: number | null;
  tracePerplexity: number | null;
  /** Mean loss on source-header tokens, reported apart from the trace. */
  sourceLoss: number | null;
  traceTokens: number;
  sourceTokens: number;
  model: StateAccuracy;
  /** Baseline: the next record repeats the previous one. */
  repeatPrevious: StateAccuracy;
  /** Baseline: the next record is the most frequent record of the training stream. */
  mostFrequent: StateAccuracy;
}

export interface EvaluationOptions {
  /** Loss is measured on at most this many tokens per run (from its start). */
  lossTokensPerRun: number;
  /** Trace records predicted per run, spread evenly over its trace; and in all. */
  recordsPerRun: number;
  maxRecords: number;
  /** A predicted record is cut after this many tokens (records longer than it count as missed). */
  maxRecordTokens: number;
  /** Rows per forward pass. */
  batchRows: number;
}

export const DEFAULT_EVALUATION_OPTIONS: EvaluationOptions = {
  lossTokensPerRun: 2048, recordsPerRun: 8, maxRecords: 256, maxRecordTokens: 96, batchRows: 16,
};

/** One trace record of a run: its text (no newline) and the byte offset where it starts. */
export interface TraceRecord {
  text: string;
  startByte: number;
}

/** The trace records of a compact text, after its source header. */
export function traceRecords(compactText: string): TraceRecord[] {
  const headerBytes = sourceHeaderBytes(compactText);
  const bytes = Buffer.from(compactText, 'utf8');
  const records: TraceRecord[] = [];
  let start = headerBytes;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    records.push({ text: bytes.subarray(start, end).toString('utf8'), startByte: start });
    start = end + 1;
  }
  return records;
}

interface RecordFields {
  /** Variable name -> the whole change field (`+x=1`, `x=2`, `-x`). */
  changes: Map<string, string>;
  stdout: string | null;
}

/** The changes and printed text of a compact record, by the grammar in src/trace/compact.ts. */
function recordFields(record: string): RecordFields {
  const fields = record.split('\t');
  const changes = new Map<string, string>();
  let stdout: string | null = null;
  // A call record's second field is the callee, not a change.
  const first = fields[0]?.startsWith('>') ? 2 : 1;
  for (const field of fields.slice(first)) {
    const sigil = field[0];
    if (sigil === '|') stdout = field;
    else if (sigil === '=' || sigil === '!' || sigil === '#' || sigil === '^' || sigil === '@' || field === '') continue;
    else {
      const body = sigil === '+' || sigil === '-' ? field.slice(1) : field;
      const eq = body.indexOf('=');
      changes.set(eq < 0 ? body : body.slice(0, eq), field);
    }
  }
  return { changes, stdout };
}

/** Scores predictions of records against the truth. */
class AccuracyTally {
  private records = 0;
  private exact = 0;
  private variableChanges = 0;
  private variablesRight = 0;
  private outputRecords = 0;
  private outputsRight = 0;

  add(truth: string, predicted: string): void {
    this.records += 1;
    if (truth === predicted) this.exact += 1;
    const t = recordFields(truth);
    const p = recordFields(predicted);
    for (const [name, field] of t.changes) {
      this.variableChanges += 1;
      if (p.changes.get(name) === field) this.variablesRight += 1;
    }
    if (t.stdout !== null) {
      this.outputRecords += 1;
      if (p.stdout === t.stdout) this.outputsRight += 1;
    }
  }

  result(): StateAccuracy {
    const ratio = (n: number, d: number): number | null => (d === 0 ? null : n / d);
    return {
      nextState: ratio(this.exact, this.records),
      variables: ratio(this.variablesRight, this.variableChanges),
      output: ratio(this.outputsRight, this.outputRecords),
      records: this.records,
      variableChanges: this.variableChanges,
      outputRecords: this.outputRecords,
    };
  }
}

/** Which records of a run to predict: up to `count`, evenly spread, never the first record of none. */
function pickRecords(records: readonly TraceRecord[], count: number): number[] {
  if (records.length <= count) return records.map((_, i) => i);
  const step = records.length / count;
  return Array.from({ length: count }, (_, k) => Math.floor(k * step + step / 2));
}

/** Loss windows of one run: sequences of contextTokens+1 from its start, the last one padded. */
function lossWindows(run: TokenizedRun, time: number, maxTokens: number): { inputs: Int32Array; targets: Int32Array; isTrace: Uint8Array }[] {
  const windows = [];
  const limit = Math.min(run.tokens.length, maxTokens + 1);
  for (let start = 0; start + 1 < limit; start += time) {
    const inputs = new Int32Array(time).fill(BYTE_TOKENIZER.endOfText);
    const targets = new Int32Array(time).fill(BYTE_TOKENIZER.endOfText);
    const isTrace = new Uint8Array(time).fill(2);
    for (let t = 0; t < time && start + t + 1 < limit; t += 1) {
      inputs[t] = run.tokens[start + t]!;
      targets[t] = run.tokens[start + t + 1]!;
      isTrace[t] = run.isTrace[start + t + 1]!;
    }
    windows.push({ inputs, targets, isTrace });
  }
  return windows;
}

/**
 * Evaluates the model on held-out runs: loss and perplexity on their trace tokens (source tokens
 * apart), and, for records spread over each trace, whether greedy decoding from the source and
 * the true trace so far reproduces the next record exactly, each variable's new value, and what it
 * prints; the two baselines are scored on the same records.
 */
export function evaluate(model: Transformer, runs: readonly EvaluationRun[], mostFrequentRecord: string, options: EvaluationOptions = DEFAULT_EVALUATION_OPTIONS): EvaluationResult {
  const time = model.config.contextTokens;
  const sums = { traceNll: 0, traceTokens: 0, sourceNll: 0, sourceTokens: 0 };
  const windows = runs.flatMap((run) => lossWindows(tokenizeRun(run.text), time, options.lossTokensPerRun));
  for (let first = 0; first < windows.length; first += options.batchRows) {
    const group = windows.slice(first, first + options.batchRows);
    const batch: PackedBatch = {
      rows: group.length, time,
      inputs: concat(group.map((w) => w.inputs)), targets: concat(group.map((w) => w.targets)),
      targetIsTrace: Uint8Array.from(group.flatMap((w) => Array.from(w.isTrace))),
      completedRunsProducedAtMs: [],
    };
    const part = lossesOf(model, batch);
    sums.traceNll += part.traceNll;
    sums.traceTokens += part.traceTokens;
    sums.sourceNll += part.sourceNll;
    sums.sourceTokens += part.sourceTokens;
  }

  const prompts: Uint8Array[] = [];
  const truths: string[] = [];
  const truthBytes: Uint8Array[] = [];
  const previous: string[] = [];
  for (const run of runs) {
    if (prompts.length >= options.maxRecords) break;
    const bytes = Buffer.from(run.text, 'utf8');
    const records = traceRecords(run.text);
    for (const index of pickRecords(records, options.recordsPerRun).slice(0, options.maxRecords - prompts.length)) {
      const record = records[index]!;
      prompts.push(bytes.subarray(0, record.startByte));
      truths.push(record.text);
      truthBytes.push(bytes.subarray(record.startByte, record.startByte + Buffer.byteLength(record.text)));
      previous.push(index > 0 ? records[index - 1]!.text : '');
    }
  }
  const predictions = greedyRecords(model, prompts, truthBytes, { maxNewTokens: options.maxRecordTokens, batchRows: options.batchRows });
  const modelTally = new AccuracyTally();
  const repeatTally = new AccuracyTally();
  const frequentTally = new AccuracyTally();
  truths.forEach((truth, i) => {
    modelTally.add(truth, decodeTokens(predictions[i]!));
    repeatTally.add(truth, previous[i]!);
    frequentTally.add(truth, mostFrequentRecord);
  });
  const traceLoss = sums.traceTokens === 0 ? null : sums.traceNll / sums.traceTokens;
  return {
    runs: runs.length,
    traceLoss,
    tracePerplexity: traceLoss === null ? null : Math.exp(traceLoss),
    sourceLoss: sums.sourceTokens === 0 ? null : sums.sourceNll / sums.sourceTokens,
    traceTokens: sums.traceTokens,
    sourceTokens: sums.sourceTokens,
    model: modelTally.result(),
    repeatPrevious: repeatTally.result(),
    mostFrequent: frequentTally.result(),
  };
}

function concat(parts: readonly Int32Array[]): Int32Array {
  const out = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Counts trace records of the training stream for the most-frequent-record baseline, in bounded
 * memory: past `maxDistinct` records, those seen once are dropped (the most frequent ones are seen
 * often, so they survive the pruning).
 */
export class RecordFrequencies {
  private readonly counts = new Map<string, number>();

  constructor(private readonly maxDistinct = 50_000) {}

  addRun(compactText: string): void {
    for (const record of traceRecords(compactText)) {
      this.counts.set(record.text, (this.counts.get(record.text) ?? 0) + 1);
    }
    if (this.counts.size > this.maxDistinct) {
      for (const [record, count] of this.counts) if (count <= 1) this.counts.delete(record);
      for (const [record, count] of this.counts) this.counts.set(record, count - 1);
    }
  }

  mostFrequent(): string {
    let best = '';
    let bestCount = 0;
    for (const [record, count] of this.counts) {
      if (count > bestCount) {
        best = record;
        bestCount = count;
      }
    }
    return best;
  }

  /** The `limit` most frequent records with their counts, for a checkpoint. */
  top(limit = 1000): [string, number][] {
    return [...this.counts].sort((a, b) => b[1] - a[1]).slice(0, limit);
  }

  restore(entries: readonly [string, number][]): void {
    this.counts.clear();
    for (const [record, count] of entries) this.counts.set(record, count);
  }
}
