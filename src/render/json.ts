import type { Execution, Limits } from '../runs/index.js';
import type { ExceptionInfo, Step, VariableChange } from '../runs/index.js';

/**
 * Renders a run as one line of JSON whose keys always come in the same order (the order of the
 * type declarations), whatever order the object was built or decoded in, so equal runs give equal
 * bytes. Keys outside the data model are left out.
 *
 * @example
 * renderJson(execution) // '{"runId":"a#0","outcome":"ok",...,"steps":[{"index":0,"event":"line",...}],...}'
 */
export function renderJson(execution: Execution): string {
  return JSON.stringify(orderExecution(execution));
}

// Each builder is an object literal typed as the interface, so the compiler rejects a builder that
// misses a field when the model grows.
function orderExecution(e: Execution): Execution {
  return {
    runId: e.runId,
    outcome: e.outcome,
    exitCode: e.exitCode,
    signal: e.signal,
    stdout: e.stdout,
    stderrTail: e.stderrTail,
    outputFile: e.outputFile,
    exception: orderException(e.exception),
    reason: e.reason,
    wallTimeMs: e.wallTimeMs,
    cpuTimeMs: e.cpuTimeMs,
    steps: e.steps.map(orderStep),
    stepCount: e.stepCount,
    traceTruncated: e.traceTruncated,
    limits: orderLimits(e.limits),
    tracerVersion: e.tracerVersion,
    pythonVersion: e.pythonVersion,
  };
}

function orderStep(s: Step): Step {
  return {
    index: s.index,
    event: s.event,
    line: s.line,
    depth: s.depth,
    function: s.function,
    changes: s.changes.map(orderChange),
    value: s.value,
    exception: orderException(s.exception),
    stdout: s.stdout,
  };
}

function orderChange(c: VariableChange): VariableChange {
  return { name: c.name, kind: c.kind, value: c.value };
}

function orderException(x: ExceptionInfo | null): ExceptionInfo | null {
  return x === null ? null : { type: x.type, message: x.message };
}

function orderLimits(l: Limits): Limits {
  return {
    wallTimeMs: l.wallTimeMs,
    cpuTimeMs: l.cpuTimeMs,
    addressSpaceBytes: l.addressSpaceBytes,
    outputBytes: l.outputBytes,
    maxSteps: l.maxSteps,
    traceBytes: l.traceBytes,
    openFiles: l.openFiles,
    reprChars: l.reprChars,
  };
}
