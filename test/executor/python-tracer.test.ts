import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { execa } from 'execa';
import { chooseInterpreter } from '../../src/executor/index.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

interface PythonTestRecord {
  name: string;
  status: 'pass' | 'fail' | 'skip';
  detail: string;
}

/**
 * The Python tracer suite (test/python) on the interpreter the executor chooses, one node test per
 * Python test: a Python skip (the sys.monitoring backend before 3.12) is a node skip with its
 * reason, never a pass.
 */
const interpreter = await chooseInterpreter({});
const run = await execa(interpreter.command, ['test/python/report.py'], { cwd: REPO, reject: false, all: false });
const records = run.stdout.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as PythonTestRecord);

describe(`the Python tracer suite (test/python) on ${interpreter.command} ${interpreter.version}`, () => {
  test('ran to the end and reported its tests', () => {
    assert.equal(run.exitCode, 0, run.stderr);
    assert.ok(records.length > 0, `no test reported; stderr: ${run.stderr}`);
  });
  for (const record of records) {
    test(record.name, (t) => {
      if (record.status === 'skip') t.skip(record.detail);
      else assert.equal(record.status, 'pass', record.detail);
    });
  }
});
