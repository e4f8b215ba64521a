import type { TraceChannelResult } from './trace-channel.js';

/** What the pool itself saw of a run, which the program cannot forge. */
export interface ObservedEnd {
  exitCode: number | null;
  signal: string | null;
  /** The zygote killed the run at its wall-clock limit (an end record may have raced the kill). */
  killedForWallTime: boolean;
  /** stdout as captured by the zygote (its first outputBytes). */
  stdout: string;
  /** The capture holds all of stdout (false: it was cut at the output limit). */
  stdoutComplete: boolean;
  /** Lines of the program's source: a traced line is one of them. */
  sourceLines: number;
}

/**
 * Cross-checks the channel against what the pool saw: the end record must state the exit status
 * the process really had (mod 256, as the kernel reports it) and no signal may have ended a process
 * that wrote one; the text credited to steps must be, in the order the tracer says it was printed, text the program really printed; a step's line
 * must be a line of the source.
 * A program that writes a fake end record and leaves by a raw exit, or invents steps that print,
 * fails one of these. Returns what is wrong, or null; a channel the parser already found corrupt
 * keeps its own reason.
 */
export function verifyChannel(channel: TraceChannelResult, observed: ObservedEnd): string | null {
  if (channel.corruption !== null) return channel.corruption;
  const { end } = channel;
  if (end !== null && !observed.killedForWallTime) {
    if (observed.signal !== null) return `end record written, yet the process was killed by ${observed.signal}`;
    if (observed.exitCode === null || (end.exitCode & 0xff) !== observed.exitCode) {
      return `end record says exit status ${end.exitCode}, the process exited with ${observed.exitCode ?? 'none'}`;
    }
  }
  for (const step of channel.steps) {
    // Python numbers the line after the last one for an implicit return at the end of the file.
    if (step.line > observed.sourceLines + 1) return `step ${step.index} is on line ${step.line}, past the source's ${observed.sourceLines}`;
  }
  // The child keeps up to 64 KiB of stdout in its own buffer until its end record: without one (it
  // was killed) credited text may never have reached the capture.
  return end === null || observed.killedForWallTime ? null : checkStepOutput(channel, observed);
}

/**
 * The printed pieces (in the order the tracer says they were printed) must follow each other in
 * the captured stdout. The tracer decodes each piece's bytes on their own (a character split
 * between two pieces becomes U+FFFD on both sides), so the text between replacement characters is
 * matched piece by piece, each after the last.
 */
function checkStepOutput(channel: TraceChannelResult, observed: ObservedEnd): string | null {
  let at = 0;
  for (const printed of channel.printed) {
    for (const piece of printed.split('\uFFFD')) {
      if (piece.length === 0) continue;
      const found = observed.stdout.indexOf(piece, at);
      if (found === -1) {
        // A capture cut at the output limit cannot show what came after the cut.
        if (!observed.stdoutComplete) return null;
        return `steps credit stdout the program never printed (${JSON.stringify(printed.slice(0, 40))})`;
      }
      at = found + piece.length;
    }
  }
  return null;
}
