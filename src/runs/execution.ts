/**
 * One run of a program: what is asked (`ExecutionRequest`), how it ended (`Outcome`) and what it
 * recorded (`Execution`). The executor produces it, the Avro events carry it, the renderers print it.
 */
import type { Limits } from './limits.js';
import type { ExceptionInfo, Step } from './step.js';

/**
 * How a run ended. Exactly one applies; `ok` means the program ran to completion (or called
 * `sys.exit(0)`) within every limit.
 */
export type Outcome =
  | 'ok'
  | 'error' // uncaught exception or non-zero exit status
  | 'timeout' // wall-clock or CPU-time limit
  | 'memory' // address-space limit (MemoryError or the kernel refused memory)
  | 'output-limit' // stdout (or OUTPUT_PATH file) grew past its limit
  | 'step-limit' // the trace reached its step limit and the program was stopped
  | 'syntax-error' // the source does not compile (Python 2 code, say)
  | 'killed'; // ended by a signal or by the sandbox for a reason not covered above

export const OUTCOMES: readonly Outcome[] = [
  'ok', 'error', 'timeout', 'memory', 'output-limit', 'step-limit', 'syntax-error', 'killed',
];

export interface ExecutionRequest {
  /** Stable identity of the run, carried into every event it produces (e.g. `<solutionId>#<inputIndex>`). */
  runId?: string;
  source: string;
  stdin?: string;
  /** Shown in tracebacks; defaults to `main.py`. */
  filename?: string;
  limits?: Partial<Limits>;
  /** false runs the program without the tracer (the baseline the benchmarks compare against). */
  trace?: boolean;
  /**
   * true makes the tracer compare every variable of the frame after every line, instead of only
   * the names a line can change where it can prove nothing else changed. The traces are the same
   * (the fidelity bench checks it); this is the slower reference the fast path is checked against.
   */
  compareWholeFrame?: boolean;
}

export interface Execution {
  runId: string;
  outcome: Outcome;
  /** Process exit status, or null when a signal ended it. */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  /** Last bytes of stderr (bounded). */
  stderrTail: string;
  /** Content of the file the program wrote to `$OUTPUT_PATH` (HackerRank's template), if any. */
  outputFile: string | null;
  /** Uncaught exception (or SyntaxError), if any. */
  exception: ExceptionInfo | null;
  /** One line saying why the run ended this way, for humans. */
  reason: string;
  wallTimeMs: number;
  cpuTimeMs: number;
  steps: Step[];
  stepCount: number;
  /** True when steps are missing from the end (a limit stopped recording, or the process died). */
  traceTruncated: boolean;
  limits: Limits;
  tracerVersion: string;
  pythonVersion: string;
}
