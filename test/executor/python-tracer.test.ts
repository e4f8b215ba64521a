import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { execa } from 'execa';
import { chooseInterpreter } from '../../src/executor/index.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

test('the Python tracer suite (test/python) passes on the interpreter the executor chooses', async () => {
  const interpreter = await chooseInterpreter({});
  const result = await execa(interpreter.command, ['-m', 'unittest', 'discover', '-s', 'test/python', '-v'], {
    cwd: REPO, reject: false, all: true,
  });
  assert.equal(result.exitCode, 0, result.all);
  assert.match(result.all ?? '', /^OK/m);
});
