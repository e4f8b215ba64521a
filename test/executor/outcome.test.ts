import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideOutcome, type OutcomeInput } from '../../src/executor/index.js';
import { DEFAULT_LIMITS } from '../../src/runs/index.js';
import type { ChildEnd } from '../../src/executor/trace-channel.js';

const limits = { ...DEFAULT_LIMITS, outputBytes: 100 };

function input(overrides: Partial<OutcomeInput>): OutcomeInput {
  return {
    end: end('ok'),
    exitCode: 0,
    signal: null,
    killedForWallTime: false,
    stdoutBytes: 0,
    outputFileBytes: null,
    stderrTail: '',
    limits,
    ...overrides,
  };
}

function end(status: ChildEnd['status'], exception: ChildEnd['exception'] = null, exitCode = status === 'ok' ? 0 : 1): ChildEnd {
  return { status, exception, exitCode, stepCount: 3, tracerError: null };
}

test('a clean exit with an ok end record is ok', () => {
  assert.deepEqual(decideOutcome(input({})), { outcome: 'ok', reason: 'ran to completion', exception: null });
});

test('exit status 0 without an end record (the tracer never finished) is still ok', () => {
  assert.equal(decideOutcome(input({ end: null })).outcome, 'ok');
});

test('a syntax error wins over everything else and carries the SyntaxError', () => {
  const syntax = { type: 'SyntaxError', message: 'invalid syntax (main.py, line 1)' };
  const decision = decideOutcome(input({ end: end('syntax-error', syntax), exitCode: 1, stdoutBytes: 1000 }));
  assert.deepEqual(decision, { outcome: 'syntax-error', reason: 'syntax error: SyntaxError: invalid syntax (main.py, line 1)', exception: syntax });
});

test('the step limit is reported as step-limit even though the child exits 1', () => {
  assert.equal(decideOutcome(input({ end: end('step-limit'), exitCode: 1 })).outcome, 'step-limit');
});

test('stdout or the OUTPUT_PATH file past outputBytes, or SIGXFSZ, is output-limit', () => {
  assert.equal(decideOutcome(input({ stdoutBytes: 101 })).outcome, 'output-limit');
  assert.equal(decideOutcome(input({ stdoutBytes: 100 })).outcome, 'ok');
  assert.equal(decideOutcome(input({ outputFileBytes: 101 })).outcome, 'output-limit');
  assert.equal(decideOutcome(input({ end: null, exitCode: null, signal: 'SIGXFSZ' })).outcome, 'output-limit');
  assert.equal(decideOutcome(input({ end: end('output-limit'), exitCode: 1 })).outcome, 'output-limit');
});

test('MemoryError, or dying without an end record while saying it is out of memory, is memory', () => {
  const memoryError = { type: 'MemoryError', message: '' };
  const decision = decideOutcome(input({ end: end('memory', memoryError), exitCode: 1 }));
  assert.equal(decision.outcome, 'memory');
  assert.deepEqual(decision.exception, memoryError);
  const died = input({ end: null, exitCode: null, signal: 'SIGABRT', stderrTail: 'Fatal Python error: Cannot allocate memory\n' });
  assert.equal(decideOutcome(died).outcome, 'memory');
  assert.equal(decideOutcome({ ...died, stderrTail: 'Fatal Python error: Segmentation fault\n' }).outcome, 'killed');
});

test('wall and CPU limits are timeouts, whether the child or the server noticed', () => {
  assert.equal(decideOutcome(input({ end: end('timeout'), exitCode: 1 })).outcome, 'timeout');
  assert.equal(decideOutcome(input({ end: end('cpu-timeout'), exitCode: 1 })).reason, `CPU-time limit reached (${limits.cpuTimeMs} ms)`);
  assert.equal(decideOutcome(input({ end: null, exitCode: null, signal: 'SIGXCPU' })).outcome, 'timeout');
  const killed = decideOutcome(input({ end: null, exitCode: null, signal: 'SIGKILL', killedForWallTime: true }));
  assert.deepEqual(killed, { outcome: 'timeout', reason: `wall-clock limit reached (${limits.wallTimeMs} ms)`, exception: null });
});

test('an uncaught exception is error and names it', () => {
  const zero = { type: 'ZeroDivisionError', message: 'division by zero' };
  assert.deepEqual(decideOutcome(input({ end: end('exception', zero), exitCode: 1 })), {
    outcome: 'error', reason: 'uncaught ZeroDivisionError: division by zero', exception: zero,
  });
});

test('sys.exit with a non-zero status is error; sys.exit(0) is ok', () => {
  const exit3 = { type: 'SystemExit', message: '3' };
  assert.deepEqual(decideOutcome(input({ end: end('exit', exit3, 3), exitCode: 3 })), {
    outcome: 'error', reason: 'exited with status 3', exception: exit3,
  });
  assert.equal(decideOutcome(input({ end: end('exit', null, 0), exitCode: 0 })).outcome, 'ok');
});

test('any other signal is killed and names the signal', () => {
  assert.deepEqual(decideOutcome(input({ end: null, exitCode: null, signal: 'SIGSEGV' })), {
    outcome: 'killed', reason: 'killed by SIGSEGV', exception: null,
  });
});

test('a sandbox failure is killed with its reason, whatever the program did', () => {
  const decision = decideOutcome(input({ end: null, exitCode: null, sandboxFailure: 'the executor process exited (SIGKILL)' }));
  assert.deepEqual(decision, { outcome: 'killed', reason: 'sandbox failure: the executor process exited (SIGKILL)', exception: null });
  const setup = input({ end: null, exitCode: 125, stderrTail: 'tracestream sandbox: PermissionError: [Errno 13] Permission denied\n' });
  assert.equal(decideOutcome(setup).reason, 'sandbox failure: PermissionError: [Errno 13] Permission denied');
});
