import type { Limits, Outcome } from '../runs/index.js';
import type { ExceptionInfo, Step, StepEvent, VariableChange } from '../runs/index.js';

/**
 * The TypeScript shapes of the events, written once to match `schemas/<Name>.avsc`. They are
 * not checked here: the Avro type checks every value when it is encoded (see `createAvroCodec`), and
 * the round-trip tests fail when an interface and its schema drift apart.
 */

export const EVENT_TYPES = ['SolutionSubmitted', 'ExecutionTrace', 'LineDiff', 'DeadLetter', 'ModelMetrics'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** The Avro namespace of every event; an event's full name is `io.tracestream.<EventType>`. */
export const EVENT_NAMESPACE = 'io.tracestream';

export interface TestInput {
  stdin: string;
  expectedStdout: string | null;
}

export interface SolutionSubmitted {
  schemaVersion: number;
  solutionId: string;
  problemId: string;
  /** `python3` is the only language run today. */
  language: string;
  source: string;
  /** At least one. */
  inputs: TestInput[];
  /** Free-form provenance: repo, path, commit, url, ... */
  origin: Record<string, string>;
  submittedAtMs: number;
}

/** `Outcome` with `-` spelled `_`, as Avro enum symbols must be. */
export type AvroOutcome =
  | 'ok' | 'error' | 'timeout' | 'memory' | 'output_limit' | 'step_limit' | 'syntax_error' | 'killed';

export interface ExecutionTrace {
  schemaVersion: number;
  /** `${solutionId}#${inputIndex}` */
  runId: string;
  solutionId: string;
  problemId: string;
  inputIndex: number;
  /** Hex SHA-256 of source + "\0" + stdin. */
  contentHash: string;
  tracerVersion: string;
  pythonVersion: string;
  outcome: AvroOutcome;
  exitCode: number | null;
  signal: string | null;
  reason: string;
  stdout: string;
  stderrTail: string;
  outputFile: string | null;
  exception: ExceptionInfo | null;
  wallTimeMs: number;
  cpuTimeMs: number;
  limits: Limits;
  stepCount: number;
  traceTruncated: boolean;
  steps: Step[];
  producedAtMs: number;
  /** What was shortened to fit the topic's message size ('steps', 'names', 'values', 'stdout', ...); empty: nothing. */
  cut: string[];
  /** The program that ran; null from producers older than the field. Consumers render it as the compact header. */
  source: string | null;
  /** The run's standard input; '' from producers older than the field. */
  stdin: string;
  /** The solution's provenance (repo, path, commit, url, ...); {} from producers older than the field. */
  origin: Record<string, string>;
}

export interface LineDiff {
  schemaVersion: number;
  runId: string;
  solutionId: string;
  stepIndex: number;
  /** Steps recorded for the whole run. */
  stepCount: number;
  event: StepEvent;
  line: number;
  depth: number;
  function: string;
  /** The text of that line of the program. */
  sourceLine: string;
  changes: VariableChange[];
  value: string | null;
  exception: ExceptionInfo | null;
  stdout: string;
  /**
   * Diffs emitted for the run: min(stepCount, max-diffs-per-run). A consumer has them all once it saw
   * indices 0 .. diffCount-1; the ExecutionTrace holds every step. -1 from producers older than the field.
   */
  diffCount: number;
  /** The run's problem (ExecutionTrace.problemId); null from producers older than the field. */
  problemId: string | null;
  /** How the run ended (ExecutionTrace.outcome); null from producers older than the field. */
  outcome: AvroOutcome | null;
}

export interface DeadLetter {
  schemaVersion: number;
  reason: string;
  errorCode: string | null;
  sourceTopic: string;
  sourcePartition: number;
  /** Decimal offset, as Kafka clients give it. */
  sourceOffset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
  failedAtMs: number;
  /** What was left out to fit the topic's message size ('value', 'headers', 'key', 'reason'); empty: nothing. */
  cut: string[];
}

/** Accuracy of one predictor of the next trace record, in CodeExecutor's terms (see src/model/evaluation.ts). */
export interface StateAccuracyRecord {
  /** Records predicted exactly (the whole line), over `records`. Null when none were evaluated. */
  nextState: number | null;
  /** Variable changes of the true records that the prediction has with the same value, over `variableChanges`. */
  variables: number | null;
  /** Records that print whose printed text was predicted exactly, over `outputRecords`. */
  output: number | null;
  records: number;
  variableChanges: number;
  outputRecords: number;
}

export interface ModelMetrics {
  schemaVersion: number;
  modelId: string;
  step: number;
  tokensTrained: number;
  backend: string;
  trainLoss: number | null;
  trainTraceLoss: number | null;
  trainSourceLoss: number | null;
  tokensPerSecond: number | null;
  trainLagMs: number | null;
  evalRuns: number;
  traceLoss: number | null;
  tracePerplexity: number | null;
  sourceLoss: number | null;
  model: StateAccuracyRecord;
  repeatPrevious: StateAccuracyRecord;
  mostFrequent: StateAccuracyRecord;
  evaluatedAtMs: number;
}

export interface EventTypes {
  SolutionSubmitted: SolutionSubmitted;
  ExecutionTrace: ExecutionTrace;
  LineDiff: LineDiff;
  DeadLetter: DeadLetter;
  ModelMetrics: ModelMetrics;
}

export type TracestreamEvent = EventTypes[EventType];

const TO_AVRO: Readonly<Record<Outcome, AvroOutcome>> = {
  ok: 'ok',
  error: 'error',
  timeout: 'timeout',
  memory: 'memory',
  'output-limit': 'output_limit',
  'step-limit': 'step_limit',
  'syntax-error': 'syntax_error',
  killed: 'killed',
};

const FROM_AVRO = Object.fromEntries(
  Object.entries(TO_AVRO).map(([outcome, symbol]) => [symbol, outcome]),
) as Readonly<Record<AvroOutcome, Outcome>>;

/** The Avro enum symbol of an executor outcome: `outcomeToAvro('step-limit') === 'step_limit'`. */
export function outcomeToAvro(outcome: Outcome): AvroOutcome {
  return TO_AVRO[outcome];
}

/** The executor outcome of an Avro enum symbol: `outcomeFromAvro('step_limit') === 'step-limit'`. */
export function outcomeFromAvro(symbol: AvroOutcome): Outcome {
  return FROM_AVRO[symbol];
}
