import { randomUUID } from 'node:crypto';
import type { Execution, ExecutionRequest, Limits } from '../runs/index.js';
import type { Interpreter, SandboxIdentity } from './interpreter.js';
import { decideOutcome } from './outcome.js';
import { bytesOf, readPrefix, readProgramFile, readTail, type FileRead, type RunDir } from './run-dir.js';
import { verifyChannel } from './channel-check.js';
import { parseTraceChannel } from './trace-channel.js';
import { TRACER_VERSION } from './tracer-version.js';
import type { JobResult } from './worker.js';

const STDERR_TAIL_BYTES = 4096;

/**
 * The Execution of a run its zygote reported on: the run dir's captures (stdout, stderr, the trace
 * channel, the OUTPUT_PATH file) read within the run's limits, the channel checked against what
 * the zygote saw, and the outcome decided from both.
 */
export async function assembleExecution(
  request: ExecutionRequest,
  limits: Limits,
  trace: boolean,
  result: JobResult,
  runDir: RunDir,
  sandbox: SandboxIdentity | undefined,
  interpreter: Interpreter,
): Promise<Execution> {
  const report = 'report' in result ? result.report : null;
  // The trace file is bounded by the child's RLIMIT_FSIZE; read what that allows.
  const traceLimit = limits.traceBytes + limits.outputBytes + 1024 * 1024;
  const [stdout, stderr, traceFile, outputFile] = await Promise.all([
    readPrefix(runDir.stdoutPath, limits.outputBytes),
    readTail(runDir.stderrPath, STDERR_TAIL_BYTES),
    readPrefix(runDir.tracePath, traceLimit),
    // Boxed, the zygote copied it out of the run's tmpfs; else the program's own file is read with care.
    report?.boxed === true ? readPrefix(runDir.outputCopyPath, limits.outputBytes + 1) : readProgramFile(runDir.outputPath, limits.outputBytes, sandbox),
  ]);
  const channel = parseTraceChannel(bytesOf(traceFile) ?? Buffer.alloc(0));
  const stderrTail = decode(bytesOf(stderr));
  const stdoutText = decode(bytesOf(stdout));
  const stdoutBytes = 'size' in stdout ? stdout.size : 0;
  const exitCode = report?.exitCode ?? null;
  const signal = report?.signal ?? null;
  const killedForWallTime = report?.killedForWallTime ?? false;
  const channelCorruption = verifyChannel(channel, {
    exitCode, signal, killedForWallTime, stdout: stdoutText, stdoutComplete: stdoutBytes <= limits.outputBytes,
    sourceLines: lineCount(request.source),
  });
  const decision = decideOutcome({
    end: channel.end,
    exitCode,
    signal,
    killedForWallTime,
    stdoutBytes,
    outputFileBytes: 'size' in outputFile ? outputFile.size : null,
    stderrTail,
    limits,
    sandboxFailure: 'failure' in result ? result.failure : null,
    channelCorruption,
    fileFailure: captureFailure({ stdout, stderr, trace: traceFile }),
  });
  // The program's own file is its output, not ours: one it made unreadable is no output, and said so.
  const reason = 'unread' in outputFile ? `${decision.reason}; OUTPUT_PATH ${outputFile.unread}, not read` : decision.reason;
  const trusted = trace && channelCorruption === null;
  const steps = trusted ? channel.steps : [];
  return {
    runId: request.runId ?? randomUUID(),
    outcome: decision.outcome,
    exitCode,
    signal,
    stdout: stdoutText,
    stderrTail,
    outputFile: 'bytes' in outputFile ? decode(outputFile.bytes) : null,
    exception: decision.exception,
    reason,
    wallTimeMs: report?.wallMs ?? 0,
    cpuTimeMs: report?.cpuMs ?? 0,
    steps,
    stepCount: trusted ? (channel.end?.stepCount ?? steps.length) : 0,
    traceTruncated: trace && (!trusted || channel.truncation !== null || channel.end === null),
    limits,
    tracerVersion: (trusted ? channel.tracerVersion : null) ?? TRACER_VERSION,
    pythonVersion: (trusted ? channel.pythonVersion : null) ?? interpreter.version,
  };
}

/** The first capture file (the zygote's, out of the program's reach) that could not be read. */
function captureFailure(reads: Record<string, FileRead>): string | null {
  for (const [name, read] of Object.entries(reads)) {
    if ('unread' in read) return `the run's ${name} capture ${read.unread}`;
  }
  return null;
}

function lineCount(source: string): number {
  let lines = 1;
  for (let at = source.indexOf('\n'); at !== -1; at = source.indexOf('\n', at + 1)) lines++;
  return lines;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

function decode(bytes: Buffer | undefined): string {
  return bytes === undefined ? '' : decoder.decode(bytes);
}
