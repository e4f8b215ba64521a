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
  return JSON.stringify(inOrder(execution, EXECUTION));
}

/**
 * The keys of a type in the order they are written, each with how its value is ordered in turn
 * (null: as it is). A mapped type, so the compiler rejects a shape that misses a field when the
 * model grows; an object literal's keys keep the order they are written in.
 */
type Shape<T> = { [K in keyof T]-?: ((value: T[K]) => T[K]) | null };

function inOrder<T extends object>(value: T, shape: Shape<T>): T {
  const ordered: Partial<T> = {};
  for (const key in shape) {
    const nested = shape[key];
    ordered[key] = nested === null ? value[key] : nested(value[key]);
  }
  return ordered as T;
}

const CHANGE: Shape<VariableChange> = { name: null, kind: null, value: null };
const EXCEPTION: Shape<ExceptionInfo> = { type: null, message: null };
const orderException = (x: ExceptionInfo | null): ExceptionInfo | null => (x === null ? null : inOrder(x, EXCEPTION));

const STEP: Shape<Step> = {
  index: null, event: null, line: null, depth: null, function: null,
  changes: (changes) => changes.map((change) => inOrder(change, CHANGE)),
  value: null, exception: orderException, stdout: null,
};

const LIMITS: Shape<Limits> = {
  wallTimeMs: null, cpuTimeMs: null, addressSpaceBytes: null, outputBytes: null,
  maxSteps: null, traceBytes: null, openFiles: null, reprChars: null,
};

const EXECUTION: Shape<Execution> = {
  runId: null, outcome: null, exitCode: null, signal: null, stdout: null, stderrTail: null, outputFile: null,
  exception: orderException, reason: null, wallTimeMs: null, cpuTimeMs: null,
  steps: (steps) => steps.map((step) => inOrder(step, STEP)),
  stepCount: null, traceTruncated: null,
  limits: (limits) => inOrder(limits, LIMITS),
  tracerVersion: null, pythonVersion: null,
};
