import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { queryDuckDB } from '../helpers/duckdb.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
let dir: string;

const DOUBLE = 'a = int(input())\nb = a * 2\nprint(b)\n';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tracestream-cli-inputs-'));
  // The sandbox user (when the tests run as root) must reach the wrapper interpreter below.
  await chmod(dir, 0o755);
  await writeFile(join(dir, 'double.py'), DOUBLE);
  await writeFile(join(dir, 'double.in'), '21\n');
  await writeFile(join(dir, 'solutions.jsonl'), [
    JSON.stringify({ id: 'one', problem: 'double', source: DOUBLE, stdin: '5\n' }),
    '',
    JSON.stringify({ id: 'two', source: DOUBLE, inputs: [{ stdin: '1\n' }, { stdin: '2\n' }] }),
  ].join('\n'));
});

after(() => rm(dir, { recursive: true, force: true }));

function tracestream(args: string[], options: { input?: string; env?: Record<string, string> } = {}) {
  return execa(process.execPath, [MAIN, ...args], {
    reject: false, stripFinalNewline: false, timeout: 180_000, env: { KAFKA_BROKERS: '', ...options.env }, ...(options.input === undefined ? {} : { input: options.input }),
  });
}

describe('run --format', () => {
  test('snoop prints each line with its changes and output, then the outcome', async () => {
    const result = await tracestream(['run', join(dir, 'double.py'), '--stdin', join(dir, 'double.in'), '--format', 'snoop']);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stdout, '   1 | a = int(input())\n...... a = 21\n   2 | b = a * 2\n...... b = 42\n   3 | print(b)\nout| 42\n=== ok: ran to completion\n');
  });

  test('compact prints one line per step and an end line', async () => {
    const result = await tracestream(['run', join(dir, 'double.py'), '--stdin', join(dir, 'double.in'), '--format', 'compact']);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stdout, '1\t+a=21\n2\t+b=42\n3\t|"42\\n"\nend ok\treason=ran to completion\n');
  });

  test('json prints the Execution', async () => {
    const result = await tracestream(['run', join(dir, 'double.py'), '--stdin', join(dir, 'double.in'), '--format', 'json']);
    assert.equal(result.exitCode, 0, result.stderr);
    const execution = JSON.parse(result.stdout) as { outcome: string; stdout: string; steps: { line: number; changes: unknown[] }[] };
    assert.equal(execution.outcome, 'ok');
    assert.equal(execution.stdout, '42\n');
    assert.deepEqual(execution.steps.map((s) => [s.line, s.changes]), [
      [1, [{ name: 'a', kind: 'new', value: '21' }]], [2, [{ name: 'b', kind: 'new', value: '42' }]], [3, []],
    ]);
  });

  test('a run that does not end ok exits 1', async () => {
    const result = await tracestream(['run', join(dir, 'double.py'), '--format', 'compact']);
    assert.equal(result.exitCode, 1);
    assert.match(result.stdout, /^end error\t.*EOFError/m);
  });
});

describe('the interpreter: --python / TRACESTREAM_PYTHON', () => {
  test('TRACESTREAM_PYTHON is the only interpreter tried, and one that does not run is an error naming it', async () => {
    const missing = join(dir, 'no-such-python');
    const result = await tracestream(['run', join(dir, 'double.py')], { env: { TRACESTREAM_PYTHON: missing } });
    assert.notEqual(result.exitCode, 0);
    assert.match(result.stderr, new RegExp(`tried ${missing}`));
    assert.doesNotMatch(result.stderr, /\/usr\/bin\/python3:/, 'the default candidates are not tried');
  });

  test('the interpreter TRACESTREAM_PYTHON names runs the program, and --python wins over it', async () => {
    const wrapper = join(dir, 'python-wrapper');
    await writeFile(wrapper, '#!/bin/sh\nexec /usr/bin/python3 "$@"\n');
    await chmod(wrapper, 0o755);
    const viaEnv = await tracestream(['run', join(dir, 'double.py'), '--stdin', join(dir, 'double.in'), '--format', 'json'], { env: { TRACESTREAM_PYTHON: wrapper } });
    assert.equal(viaEnv.exitCode, 0, viaEnv.stderr);
    assert.equal((JSON.parse(viaEnv.stdout) as { stdout: string }).stdout, '42\n');
    const viaFlag = await tracestream(['run', join(dir, 'double.py'), '--python', wrapper], { env: { TRACESTREAM_PYTHON: join(dir, 'no-such-python') } });
    assert.doesNotMatch(viaFlag.stderr, /no-such-python/);
    assert.match(viaFlag.stdout, /EOFError/, 'the program ran (and read past its empty stdin)');
  });
});

describe('trace inputs: a JSONL file, one .py file, JSON lines on stdin (-)', () => {
  async function traced(input: string, stdin?: string): Promise<{ runId: string; stdout: string }[]> {
    const out = join(dir, `out-${input === '-' ? 'stdin' : input.split('/').at(-1)}`);
    const result = await tracestream(['trace', input, '--out', out], stdin === undefined ? {} : { input: stdin });
    assert.equal(result.exitCode, 0, result.stderr);
    // The dataset's Parquet shards, read by an independent reader, in run id order.
    const rows = await queryDuckDB(`select run_id, stdout from read_parquet('${out}/data/*.parquet') order by run_id`) as { run_id: string; stdout: string }[];
    return rows.map((row) => ({ runId: row.run_id, stdout: row.stdout }));
  }

  test('a JSONL file: one run per input of each solution', { timeout: 200_000 }, async () => {
    const traces = await traced(join(dir, 'solutions.jsonl'));
    assert.deepEqual(traces.map((t) => [t.runId, t.stdout]), [['one#0', '10\n'], ['two#0', '2\n'], ['two#1', '4\n']]);
  });

  test('one .py file, with its stdin from NAME.in beside it', { timeout: 200_000 }, async () => {
    const traces = await traced(join(dir, 'double.py'));
    assert.deepEqual(traces.map((t) => [t.runId, t.stdout]), [['double.py#0', '42\n']]);
  });

  test('- reads JSON lines from stdin', { timeout: 200_000 }, async () => {
    const traces = await traced('-', await readFile(join(dir, 'solutions.jsonl'), 'utf8'));
    assert.deepEqual(traces.map((t) => [t.runId, t.stdout]), [['one#0', '10\n'], ['two#0', '2\n'], ['two#1', '4\n']]);
  });

  test('a malformed line is refused, naming the line, before anything runs', async () => {
    const result = await tracestream(['trace', '-', '--out', join(dir, 'never')], { input: `${JSON.stringify({ id: 'ok', source: 'x = 1\n' })}\n{not json\n` });
    assert.notEqual(result.exitCode, 0);
    assert.match(result.stderr, /<stdin>:2: not JSON/);
  });
});
