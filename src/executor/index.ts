export type { Execution, ExecutionRequest, Limits, Outcome } from './types.js';
export { OUTCOMES } from './types.js';
export { DEFAULT_LIMITS, resolveLimits } from './limits.js';
export { chooseInterpreter, type ChooseInterpreterOptions, type Interpreter, type SandboxIdentity } from './interpreter.js';
export { createExecutorPool, type ExecutorPool, type ExecutorPoolOptions, type RunOptions } from './pool.js';
export { executeWith, type ExecuteWithOptions } from './operator.js';
export { parseTraceChannel, TRACER_VERSION, type TraceChannelResult, type ChildEnd } from './trace-channel.js';
export { decideOutcome, type OutcomeDecision, type OutcomeInput } from './outcome.js';
