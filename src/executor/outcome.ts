import type { ExceptionInfo } from '../runs/index.js';
import type { ChildEnd } from './trace-channel.js';
import type { Limits, Outcome } from '../runs/index.js';

/** Everything known about a finished run that decides how it ended. */
export interface OutcomeInput {
  /** The child's end record; null when it never wrote one (killed, crashed). */
  end: ChildEnd | null;
  exitCode: number | null;
  signal: string | null;
  killedForWallTime: boolean;
  stdoutBytes: number;
  /** Size of the OUTPUT_PATH file; null when the program did not create it. */
  outputFileBytes: number | null;
  stderrTail: string;
  limits: Limits;
  /** Set when the sandbox, not the program, failed (the zygote died or could not start the child). */
  sandboxFailure?: string | null;
  /** Set when the trace channel failed its checks (`verifyChannel`): the program wrote on it. */
  channelCorruption?: string | null;
  /** Set when a capture file of the run (stdout, stderr, trace) could not be read. */
  fileFailure?: string | null;
}

export interface OutcomeDecision {
  outcome: Outcome;
  /** One line for humans. */
  reason: string;
  exception: ExceptionInfo | null;
}

// The child's fallback exit status when it could not set up the sandbox (server.py, run_box.become_child).
const SANDBOX_SETUP_STATUS = 125;
const SANDBOX_SETUP_MARK = 'tracestream sandbox: ';
const OUT_OF_MEMORY = /MemoryError|Cannot allocate memory|out of memory/i;

/**
 * The contract's outcome rules, first match wins: sandbox failure, a corrupt trace channel
 * (killed: nothing the child said is trusted), a run file that is not a plain file, syntax error, step
 * limit, output limit, memory, time, error, ok, killed. Pure, so every rule is tested without running a program.
 */
export function decideOutcome(input: OutcomeInput): OutcomeDecision {
  const { end, limits } = input;
  const exception = end !== null && ['exception', 'syntax-error', 'memory', 'exit'].includes(end.status) ? end.exception : null;
  const decide = (outcome: Outcome, reason: string): OutcomeDecision => ({ outcome, reason, exception });

  if (input.sandboxFailure) return decide('killed', `sandbox failure: ${input.sandboxFailure}`);
  if (input.channelCorruption) {
    return { outcome: 'killed', reason: `trace channel corrupt: ${input.channelCorruption}`, exception: null };
  }
  if (input.fileFailure) return decide('killed', input.fileFailure);
  if (end === null && input.exitCode === SANDBOX_SETUP_STATUS && input.stderrTail.includes(SANDBOX_SETUP_MARK)) {
    const line = input.stderrTail.slice(input.stderrTail.lastIndexOf(SANDBOX_SETUP_MARK) + SANDBOX_SETUP_MARK.length);
    return decide('killed', `sandbox failure: ${line.split('\n')[0]}`);
  }
  if (end?.status === 'syntax-error') {
    return decide('syntax-error', `syntax error: ${describeException(end.exception) || 'the source does not compile'}`);
  }
  if (end?.status === 'step-limit') return decide('step-limit', `stopped at the step limit (${limits.maxSteps} steps)`);
  if (end?.status === 'output-limit' || input.stdoutBytes > limits.outputBytes) {
    return decide('output-limit', `stdout grew past the output limit (${limits.outputBytes} bytes)`);
  }
  if (input.outputFileBytes !== null && input.outputFileBytes > limits.outputBytes) {
    return decide('output-limit', `the OUTPUT_PATH file grew past the output limit (${limits.outputBytes} bytes)`);
  }
  if (input.signal === 'SIGXFSZ') return decide('output-limit', 'a file grew past the file-size limit (SIGXFSZ)');
  const memoryReason = `ran out of memory (address-space limit ${formatBytes(limits.addressSpaceBytes)})`;
  if (end?.status === 'memory') return decide('memory', memoryReason);
  if (end === null && !input.killedForWallTime && (input.signal !== null || input.exitCode !== 0)
    && OUT_OF_MEMORY.test(input.stderrTail)) {
    return decide('memory', memoryReason);
  }
  if (end?.status === 'cpu-timeout' || input.signal === 'SIGXCPU') {
    return decide('timeout', `CPU-time limit reached (${limits.cpuTimeMs} ms)`);
  }
  if (end?.status === 'timeout' || input.killedForWallTime) {
    return decide('timeout', `wall-clock limit reached (${limits.wallTimeMs} ms)`);
  }
  if (end?.status === 'exception') return decide('error', `uncaught ${describeException(end.exception) || 'exception'}`);
  if (input.exitCode !== null && input.exitCode !== 0) return decide('error', `exited with status ${input.exitCode}`);
  if (input.exitCode === 0) {
    return decide('ok', end?.status === 'exit' ? 'exited with status 0' : 'ran to completion');
  }
  return decide('killed', `killed by ${input.signal ?? 'an unknown cause'}`);
}

function describeException(exception: ExceptionInfo | null): string {
  if (exception === null) return '';
  return exception.message === '' ? exception.type : `${exception.type}: ${exception.message}`;
}

function formatBytes(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}
