import { outcomeFromAvro, type ExecutionTrace, type LineDiff } from '../avro/index.js';
import type { ExceptionInfo, Outcome, Step } from '../runs/index.js';

/** What the page lists for each run. */
export interface RunSummary {
  runId: string;
  solutionId: string;
  /** From the run's first diff (null from producers older than LineDiff.problemId) or its trace. */
  problemId: string | null;
  /** Null while the run is only known from its diffs (its trace, with every step, is still to come). */
  outcome: Outcome | null;
  reason: string;
  /** Steps the run recorded in all (from its trace, or its diffs' stepCount). */
  stepCount: number;
  /** Steps held here so far. */
  stepsKnown: number;
  wallTimeMs: number | null;
  /** When this server first saw the run (ms since the epoch). */
  seenAtMs: number;
  /** The trace arrived: every step is here and will not change. */
  complete: boolean;
}

/** A run as the step-through view needs it. */
export interface RunDetail extends RunSummary {
  /** Steps from `fromStep` on. */
  steps: Step[];
  fromStep: number;
  /** Text of each source line a diff showed ([line number, text]): all that is known of the source while the run streams. */
  sourceLines: [number, string][];
  /** The whole program, once the run's trace arrived (null before, or from producers older than ExecutionTrace.source). */
  source: string | null;
  stdout: string;
  stderrTail: string;
  exception: ExceptionInfo | null;
  traceTruncated: boolean;
}

interface RunEntry {
  summary: RunSummary;
  steps: Step[];
  sourceLines: Map<number, string>;
  trace: ExecutionTrace | undefined;
}

export interface RecentRunsOptions {
  /** Runs kept; the first seen is forgotten first. */
  maxRuns: number;
  /** Steps kept per run (a run can record far more than a person steps through). */
  maxStepsPerRun: number;
}

/**
 * The last `maxRuns` runs seen on the traces and diffs streams, for the page: a run appears with
 * its first diff and steps fill in as its diffs arrive; its trace completes it (outcome, every step,
 * stdout). Memory is bounded by maxRuns × maxStepsPerRun steps.
 */
export class RecentRuns {
  private readonly runs = new Map<string, RunEntry>();
  private readonly listeners = new Set<(summary: RunSummary) => void>();

  constructor(private readonly options: RecentRunsOptions) {}

  /** Called with a run's summary whenever it changes. The returned function unregisters. */
  onChange(listener: (summary: RunSummary) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  addDiff(diff: LineDiff, nowMs = Date.now()): void {
    const entry = this.entryOf(diff.runId, diff.solutionId, nowMs);
    entry.sourceLines.set(diff.line, diff.sourceLine);
    if (entry.trace !== undefined) return;
    entry.summary.problemId ??= diff.problemId;
    entry.summary.stepCount = Math.max(entry.summary.stepCount, diff.stepCount);
    // Diffs of a run arrive in step order (one key, one partition); a redelivered one is skipped.
    if (diff.stepIndex === entry.steps.length && entry.steps.length < this.options.maxStepsPerRun) {
      entry.steps.push({
        index: diff.stepIndex, event: diff.event, line: diff.line, depth: diff.depth, function: diff.function,
        changes: diff.changes, value: diff.value, exception: diff.exception, stdout: diff.stdout,
      });
      entry.summary.stepsKnown = entry.steps.length;
    }
    this.changed(entry);
  }

  addTrace(trace: ExecutionTrace, nowMs = Date.now()): void {
    const entry = this.entryOf(trace.runId, trace.solutionId, nowMs);
    entry.trace = trace;
    entry.steps = trace.steps.length > this.options.maxStepsPerRun ? trace.steps.slice(0, this.options.maxStepsPerRun) : trace.steps;
    Object.assign(entry.summary, {
      problemId: trace.problemId,
      outcome: outcomeFromAvro(trace.outcome),
      reason: trace.reason,
      stepCount: trace.stepCount,
      stepsKnown: entry.steps.length,
      wallTimeMs: trace.wallTimeMs,
      complete: true,
    } satisfies Partial<RunSummary>);
    this.changed(entry);
  }

  /** Newest first. */
  list(): RunSummary[] {
    return [...this.runs.values()].map((entry) => ({ ...entry.summary })).reverse();
  }

  get(runId: string, fromStep = 0): RunDetail | undefined {
    const entry = this.runs.get(runId);
    if (entry === undefined) return undefined;
    const from = Math.max(0, Math.min(fromStep, entry.steps.length));
    return {
      ...entry.summary,
      steps: entry.steps.slice(from),
      fromStep: from,
      sourceLines: [...entry.sourceLines].sort((a, b) => a[0] - b[0]),
      source: entry.trace?.source ?? null,
      stdout: entry.trace?.stdout ?? entry.steps.map((step) => step.stdout).join(''),
      stderrTail: entry.trace?.stderrTail ?? '',
      exception: entry.trace?.exception ?? null,
      traceTruncated: entry.trace?.traceTruncated ?? false,
    };
  }

  get size(): number {
    return this.runs.size;
  }

  private entryOf(runId: string, solutionId: string, nowMs: number): RunEntry {
    let entry = this.runs.get(runId);
    if (entry !== undefined) return entry;
    entry = {
      summary: {
        runId, solutionId, problemId: null, outcome: null, reason: '', stepCount: 0, stepsKnown: 0,
        wallTimeMs: null, seenAtMs: nowMs, complete: false,
      },
      steps: [],
      sourceLines: new Map(),
      trace: undefined,
    };
    this.runs.set(runId, entry);
    for (const oldest of this.runs.keys()) {
      if (this.runs.size <= this.options.maxRuns) break;
      this.runs.delete(oldest);
    }
    return entry;
  }

  private changed(entry: RunEntry): void {
    for (const listener of this.listeners) listener({ ...entry.summary });
  }
}
