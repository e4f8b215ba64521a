import type { AvroOutcome, ExecutionTrace } from '../../src/avro/index.js';
import type { Step } from '../../src/runs/index.js';

const OUTCOMES: AvroOutcome[] = ['ok', 'ok', 'error', 'step_limit', 'timeout', 'ok', 'syntax_error'];

/**
 * A synthetic trace: run `i` of a solution of problem `p<i % problems>`, with `i % 7 + 1` steps whose
 * values, output and exceptions vary, so that every column holds something to compare.
 */
export function syntheticTrace(i: number, problems = 12, producedAtMs = 1_700_000_000_000 + i): ExecutionTrace {
  const outcome = OUTCOMES[i % OUTCOMES.length]!;
  const steps: Step[] = Array.from({ length: (i % 7) + 1 }, (_, s) => ({
    index: s,
    event: s === 0 ? 'line' : s % 3 === 0 ? 'return' : 'line',
    line: s + 1,
    depth: s % 3 === 0 && s > 0 ? 1 : 0,
    function: s % 3 === 0 && s > 0 ? 'f' : '<module>',
    changes: s % 2 === 0 ? [{ name: `v${s}`, kind: 'new', value: `'é ${i}·${s}\t'` }, { name: 'gone', kind: 'deleted', value: null }] : [],
    value: s % 3 === 0 && s > 0 ? String(i * s) : null,
    exception: s === 5 ? { type: 'ValueError', message: `bad ${i}` } : null,
    stdout: s === 1 ? `${i}\n` : '',
  }));
  const solutionId = `sol-${String(i).padStart(4, '0')}`;
  const source = Array.from({ length: 8 }, (_, l) => `x${l} = ${i} + ${l}`).join('\n') + '\n';
  return {
    schemaVersion: 1,
    cut: [],
    runId: `${solutionId}#0`,
    solutionId,
    problemId: `p${i % problems}`,
    inputIndex: 0,
    contentHash: i.toString(16).padStart(64, '0'),
    tracerVersion: i % 5 === 0 ? '0.9.0' : '1.0.0',
    pythonVersion: '3.11.2',
    outcome,
    exitCode: outcome === 'ok' ? 0 : outcome === 'error' ? 1 : null,
    signal: outcome === 'timeout' ? 'SIGKILL' : null,
    reason: `reason ${i}`,
    stdout: `${i}\n`,
    stderrTail: outcome === 'error' ? 'Traceback...' : '',
    outputFile: i % 4 === 0 ? `file ${i}` : null,
    exception: outcome === 'error' ? { type: 'KeyError', message: `'k${i}'` } : null,
    wallTimeMs: 10 + i,
    cpuTimeMs: 5 + i,
    limits: {
      wallTimeMs: 10_000, cpuTimeMs: 10_000, addressSpaceBytes: 1024 ** 3, outputBytes: 1024 * 1024,
      maxSteps: 100_000, traceBytes: 16 * 1024 * 1024, openFiles: 64, reprChars: 200,
    },
    stepCount: outcome === 'step_limit' ? steps.length + 10 : steps.length,
    traceTruncated: outcome === 'step_limit',
    steps,
    producedAtMs,
    source,
    stdin: `${i} ${i}\n`,
    origin: { repo: `someone/repo-${i % 3}`, path: `${solutionId}.py` },
  };
}
