export { chooseInterpreter, type ChooseInterpreterOptions, type Interpreter, type SandboxIdentity } from './interpreter.js';
export { createExecutorPool, type ExecutorPool, type RunOptions } from './pool.js';
export { DEFAULT_SANDBOX_UID_BASE, type ExecutorPoolOptions } from './pool-options.js';
export { executeWith, type ExecuteWithOptions } from './operator.js';
export { TRACER_VERSION } from './tracer-version.js';
export { parseTraceChannel, type TraceChannelResult, type ChildEnd } from './trace-channel.js';
export { decideOutcome, type OutcomeDecision, type OutcomeInput } from './outcome.js';
