import { createHash } from 'node:crypto';
import type { ExecutionTrace, LineDiff, SolutionSubmitted } from '../avro/index.js';
import { outcomeToAvro } from '../avro/index.js';
import type { Execution } from '../runs/index.js';
import { cutText } from './fit-event.js';

/** Version of the event payloads this build writes; consumers may branch on it. */
export const EVENT_SCHEMA_VERSION = 1;

/** LineDiff events a run emits by default (its first steps); its ExecutionTrace always holds every step. */
export const DEFAULT_MAX_DIFFS_PER_RUN = 2000;

/**
 * The stable identity of one run: a solution on one of its inputs. It is the key of the run's trace
 * and of its diffs, so a replay or a redelivery of the same run lands on the same key (consumers
 * dedupe by it; compacted topics keep the last).
 */
export function runIdOf(solutionId: string, inputIndex: number): string {
  return `${solutionId}#${inputIndex}`;
}

/** Same program, same stdin: same hash, whatever the solution id (lets a dataset drop duplicates). */
export function contentHashOf(source: string, stdin: string): string {
  return createHash('sha256').update(source).update('\0').update(stdin).digest('hex');
}

export function toTraceEvent(solution: SolutionSubmitted, inputIndex: number, execution: Execution, nowMs = Date.now()): ExecutionTrace {
  const input = solution.inputs[inputIndex];
  return {
    schemaVersion: EVENT_SCHEMA_VERSION,
    runId: runIdOf(solution.solutionId, inputIndex),
    solutionId: solution.solutionId,
    problemId: solution.problemId,
    inputIndex,
    contentHash: contentHashOf(solution.source, input?.stdin ?? ''),
    tracerVersion: execution.tracerVersion,
    pythonVersion: execution.pythonVersion,
    outcome: outcomeToAvro(execution.outcome),
    exitCode: execution.exitCode,
    signal: execution.signal,
    reason: execution.reason,
    stdout: execution.stdout,
    stderrTail: execution.stderrTail,
    outputFile: execution.outputFile,
    exception: execution.exception,
    wallTimeMs: Math.round(execution.wallTimeMs),
    cpuTimeMs: Math.round(execution.cpuTimeMs),
    limits: execution.limits,
    stepCount: execution.stepCount,
    traceTruncated: execution.traceTruncated,
    steps: execution.steps,
    producedAtMs: nowMs,
    cut: [],
    source: solution.source,
    stdin: input?.stdin ?? '',
    origin: solution.origin,
  };
}

/**
 * One diff per recorded step, in step order, each with the text of its source line; at most
 * `maxDiffs` (0: all), each source line cut to `sourceLineChars`. Diffs feed live viewers, and a run can record a million steps: past the cap
 * its steps are only in the ExecutionTrace, and every diff says how many to expect (`diffCount`).
 */
export function toLineDiffs(trace: ExecutionTrace, source: string, maxDiffs = 0, sourceLineChars = Infinity): LineDiff[] {
  const lines = source.split('\n');
  const steps = maxDiffs > 0 && trace.steps.length > maxDiffs ? trace.steps.slice(0, maxDiffs) : trace.steps;
  return steps.map((step) => ({
    schemaVersion: EVENT_SCHEMA_VERSION,
    runId: trace.runId,
    solutionId: trace.solutionId,
    stepIndex: step.index,
    stepCount: trace.steps.length,
    event: step.event,
    line: step.line,
    depth: step.depth,
    function: step.function,
    sourceLine: cutText((lines[step.line - 1] ?? '').replace(/\r$/, ''), sourceLineChars),
    changes: step.changes,
    value: step.value,
    exception: step.exception,
    stdout: step.stdout,
    diffCount: steps.length,
    problemId: trace.problemId,
    outcome: trace.outcome,
  }));
}
