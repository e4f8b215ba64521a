import type { ExecutionTrace } from '../avro/index.js';
import { outcomeFromAvro } from '../avro/index.js';
import type { Outcome } from '../runs/index.js';
import { renderCompact } from '../render/index.js';
import { executionOf } from '../pipeline/index.js';

/**
 * One run as a dataset row: what a person or a training script reads. Column names are snake_case
 * (the convention of the Hugging Face Hub and pandas). Timings and the production time are left
 * out on purpose: they differ each time the same program runs, and the dataset is a function of
 * what the programs did, so that tracing the same programs again gives the same bytes.
 */
export interface DatasetRow {
  run_id: string;
  solution_id: string;
  problem_id: string;
  input_index: number;
  /** Hex SHA-256 of source + NUL + stdin: equal for identical runs under different ids. */
  content_hash: string;
  source: string;
  stdin: string;
  /** The solution's provenance (repo, path, commit, url, ...) as a JSON object with sorted keys. */
  origin: string;
  /** The executor's spelling: ok, error, timeout, memory, output-limit, step-limit, syntax-error, killed. */
  outcome: Outcome;
  reason: string;
  exit_code: number | null;
  signal: string | null;
  stdout: string;
  stderr_tail: string;
  output_file: string | null;
  exception: DatasetException | null;
  /** Steps the tracer saw; more than `steps.length` when the trace was cut. */
  step_count: number;
  truncated: boolean;
  tracer_version: string;
  python_version: string;
  limits: DatasetLimits;
  steps: DatasetStep[];
  /** The compact rendering (docs/compact-format.md), source header included: language-model text. */
  compact: string;
}

export interface DatasetException {
  type: string;
  message: string;
}

export interface DatasetLimits {
  wall_time_ms: number;
  cpu_time_ms: number;
  address_space_bytes: number;
  output_bytes: number;
  max_steps: number;
  trace_bytes: number;
  open_files: number;
  repr_chars: number;
}

export interface DatasetChange {
  name: string;
  /** new, modified or deleted. */
  kind: string;
  value: string | null;
}

export interface DatasetStep {
  index: number;
  /** call, line, return or exception. */
  event: string;
  line: number;
  depth: number;
  function: string;
  changes: DatasetChange[];
  value: string | null;
  exception: DatasetException | null;
  stdout: string;
}

/**
 * The row of a trace. Fields are built in declaration order, whatever order the decoded event has,
 * so that row-oriented formats (JSON lines) give the same bytes for the same run.
 */
export function toDatasetRow(trace: ExecutionTrace): DatasetRow {
  return {
    run_id: trace.runId,
    solution_id: trace.solutionId,
    problem_id: trace.problemId,
    input_index: trace.inputIndex,
    content_hash: trace.contentHash,
    source: trace.source ?? '',
    stdin: trace.stdin,
    origin: originJson(trace),
    outcome: outcomeFromAvro(trace.outcome),
    reason: trace.reason,
    exit_code: trace.exitCode,
    signal: trace.signal,
    stdout: trace.stdout,
    stderr_tail: trace.stderrTail,
    output_file: trace.outputFile,
    exception: exceptionOf(trace.exception),
    step_count: trace.stepCount,
    truncated: trace.traceTruncated,
    tracer_version: trace.tracerVersion,
    python_version: trace.pythonVersion,
    limits: limitsOf(trace),
    steps: trace.steps.map((step) => ({
      index: step.index,
      event: step.event,
      line: step.line,
      depth: step.depth,
      function: step.function,
      changes: step.changes.map((change) => ({ name: change.name, kind: change.kind, value: change.value })),
      value: step.value,
      exception: exceptionOf(step.exception),
      stdout: step.stdout,
    })),
    // Traces from producers older than the source field have none: no header then, rather than an empty one.
    compact: renderCompact(executionOf(trace), trace.source === null || trace.source === '' ? {} : { source: trace.source }),
  };
}

/** What a dataset's filters, splits and counts read of a row: everything but the heavy fields. */
export type RowSummary = Pick<DatasetRow, 'problem_id' | 'outcome' | 'step_count' | 'truncated' | 'tracer_version' | 'python_version' | 'limits' | 'origin'>;

/** The trace's fields a row summary is made of: what a replay decodes of a trace before it writes it (`AvroCodec.decodeFields`). */
export const ROW_SUMMARY_FIELDS = ['problemId', 'outcome', 'stepCount', 'traceTruncated', 'tracerVersion', 'pythonVersion', 'limits', 'origin'] as const;

/** The summary of a trace's row, without building its steps and compact text. */
export function rowSummaryOf(trace: Pick<ExecutionTrace, (typeof ROW_SUMMARY_FIELDS)[number]>): RowSummary {
  return {
    problem_id: trace.problemId,
    outcome: outcomeFromAvro(trace.outcome),
    step_count: trace.stepCount,
    truncated: trace.traceTruncated,
    tracer_version: trace.tracerVersion,
    python_version: trace.pythonVersion,
    limits: limitsOf(trace),
    origin: originJson(trace),
  };
}

function originJson(trace: Pick<ExecutionTrace, 'origin'>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(trace.origin).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

function limitsOf(trace: Pick<ExecutionTrace, 'limits'>): DatasetLimits {
  return {
    wall_time_ms: trace.limits.wallTimeMs,
    cpu_time_ms: trace.limits.cpuTimeMs,
    address_space_bytes: trace.limits.addressSpaceBytes,
    output_bytes: trace.limits.outputBytes,
    max_steps: trace.limits.maxSteps,
    trace_bytes: trace.limits.traceBytes,
    open_files: trace.limits.openFiles,
    repr_chars: trace.limits.reprChars,
  };
}

function exceptionOf(exception: { type: string; message: string } | null): DatasetException | null {
  return exception === null ? null : { type: exception.type, message: exception.message };
}
