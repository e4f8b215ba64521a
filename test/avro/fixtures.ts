import type { DeadLetter, EventTypes, ExecutionTrace, LineDiff, ModelMetrics, SolutionSubmitted } from '../../src/avro/index.js';

/** One event of each type, with every optional field set and nested arrays non-empty. */
export const solution: SolutionSubmitted = {
  schemaVersion: 1,
  solutionId: 'sol-1',
  problemId: 'two-sum',
  language: 'python3',
  source: 'a, b = map(int, input().split())\nprint(a + b)\n',
  inputs: [{ stdin: '1 2\n', expectedStdout: '3\n' }, { stdin: '5 -5\n', expectedStdout: null }],
  origin: { repo: 'someone/solutions', path: 'two_sum.py', commit: 'abc123' },
  submittedAtMs: 1_700_000_000_123,
};

export const trace: ExecutionTrace = {
  schemaVersion: 1,
  runId: 'sol-1#0',
  solutionId: 'sol-1',
  problemId: 'two-sum',
  inputIndex: 0,
  contentHash: 'f'.repeat(64),
  tracerVersion: '1.0.0',
  pythonVersion: '3.11.2',
  outcome: 'step_limit',
  exitCode: null,
  signal: 'SIGKILL',
  reason: 'stopped after 2 steps',
  stdout: '3\n',
  stderrTail: '',
  outputFile: 'file output',
  exception: { type: 'ValueError', message: 'bad value' },
  wallTimeMs: 12.5,
  cpuTimeMs: 8.25,
  limits: {
    wallTimeMs: 10_000, cpuTimeMs: 10_000, addressSpaceBytes: 4 * 1024 ** 3, outputBytes: 1024 * 1024,
    maxSteps: 2, traceBytes: 16 * 1024 * 1024, openFiles: 64, reprChars: 200,
  },
  stepCount: 3,
  traceTruncated: true,
  steps: [
    {
      index: 0, event: 'line', line: 1, depth: 0, function: '<module>',
      changes: [{ name: 'a', kind: 'new', value: '1' }, { name: 'b', kind: 'new', value: '2' }],
      value: null, exception: null, stdout: '',
    },
    {
      index: 1, event: 'return', line: 2, depth: 1, function: 'f',
      changes: [{ name: 'x', kind: 'deleted', value: null }],
      value: 'None', exception: { type: 'KeyError', message: "'k'" }, stdout: '3\n',
    },
  ],
  producedAtMs: 1_700_000_000_456,
  cut: [],
  source: solution.source,
  stdin: '1 2\n',
  origin: { repo: 'someone/solutions', path: 'two_sum.py' },
};

export const lineDiff: LineDiff = {
  schemaVersion: 1,
  runId: 'sol-1#0',
  solutionId: 'sol-1',
  stepIndex: 0,
  stepCount: 3,
  event: 'exception',
  line: 1,
  depth: 0,
  function: '<module>',
  sourceLine: 'a, b = map(int, input().split())',
  changes: [{ name: 'a', kind: 'modified', value: '1' }],
  value: null,
  exception: { type: 'ValueError', message: 'not enough values to unpack' },
  stdout: '',
  diffCount: 3,
  problemId: 'two-sum',
  outcome: 'error',
};

export const deadLetter: DeadLetter = {
  schemaVersion: 1,
  reason: 'bad magic byte',
  errorCode: 'DECODE_FAILED',
  sourceTopic: 'traces',
  sourcePartition: 3,
  sourceOffset: '9007199254740993',
  key: Buffer.from('sol-1#0'),
  value: Buffer.from([0x7b, 0x00, 0xff]),
  headers: { 'content-type': Buffer.from('application/json') },
  failedAtMs: 1_700_000_000_789,
  cut: [],
};

export const modelMetrics: ModelMetrics = {
  schemaVersion: 1,
  modelId: 'checkpoints/run-1',
  step: 1200,
  tokensTrained: 1_228_800,
  backend: 'wasm',
  trainLoss: 0.82,
  trainTraceLoss: 0.71,
  trainSourceLoss: 1.4,
  tokensPerSecond: 2150.5,
  trainLagMs: 8_250,
  evalRuns: 40,
  traceLoss: 0.95,
  tracePerplexity: Math.exp(0.95),
  sourceLoss: null,
  model: { nextState: 0.41, variables: 0.5, output: 0.25, records: 256, variableChanges: 300, outputRecords: 12 },
  repeatPrevious: { nextState: 0.12, variables: 0.08, output: 0, records: 256, variableChanges: 300, outputRecords: 12 },
  mostFrequent: { nextState: 0.05, variables: 0, output: null, records: 256, variableChanges: 300, outputRecords: 0 },
  evaluatedAtMs: 1_700_000_001_000,
};

export const EVENTS: { [K in keyof EventTypes]: EventTypes[K] } = {
  SolutionSubmitted: solution,
  ExecutionTrace: trace,
  LineDiff: lineDiff,
  DeadLetter: deadLetter,
  ModelMetrics: modelMetrics,
};

/** Decoded records are instances of avsc's generated classes; this copies them into plain objects to compare. */
export function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
}
