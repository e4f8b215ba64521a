import type { ExecutionTrace } from '../../src/avro/index.js';
import { renderCompact } from '../../src/render/index.js';
import { executionOf } from '../../src/pipeline/index.js';
import { TraceBuilder, added, changed } from '../helpers/execution.js';

/** A program of ours whose trace repeats: a counting loop. */
export const COUNTER_SOURCE = 'total = 0\nfor i in range(N):\n    total += i\nprint(total)\n';

/** The ExecutionTrace the tracer gives COUNTER_SOURCE for `n` iterations. */
export function counterTrace(n: number, problemId: string, runId: string, producedAtMs = Date.now()): ExecutionTrace {
  const builder = new TraceBuilder().line(1, [added('total', '0')]);
  let total = 0;
  for (let i = 0; i < n; i += 1) {
    builder.line(2, i === 0 ? [added('i', '0')] : [changed('i', String(i))]);
    total += i;
    builder.line(3, [changed('total', String(total))]);
  }
  builder.line(2).line(4, [], { stdout: `${total}\n` });
  const execution = builder.build({ stdout: `${total}\n` });
  return {
    schemaVersion: 1, runId, solutionId: runId.split('#')[0]!, problemId, inputIndex: 0, contentHash: '0'.repeat(64),
    tracerVersion: execution.tracerVersion, pythonVersion: execution.pythonVersion, outcome: 'ok', exitCode: 0, signal: null,
    reason: execution.reason, stdout: execution.stdout, stderrTail: '', outputFile: null, exception: null,
    wallTimeMs: 1, cpuTimeMs: 1, limits: execution.limits, stepCount: execution.steps.length, traceTruncated: false,
    steps: execution.steps, producedAtMs, cut: [], source: COUNTER_SOURCE.replace('N', String(n)), stdin: '', origin: {},
  };
}

/** The training text of a counter run: its compact rendering with the source header. */
export function counterText(n: number): string {
  const trace = counterTrace(n, 'p', 'r#0');
  return renderCompact(executionOf(trace), { source: trace.source! });
}
