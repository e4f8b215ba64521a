/**
 * The run data model, below every layer that makes, carries or prints runs: the request, its limits,
 * how it ended, and the steps it recorded.
 */
export type { Execution, ExecutionRequest, Outcome } from './execution.js';
export { OUTCOMES } from './execution.js';
export { DEFAULT_LIMITS, resolveLimits, type Limits } from './limits.js';
export type { ChangeKind, ExceptionInfo, Step, StepEvent, VariableChange } from './step.js';
