import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { execa } from 'execa';
import { TRACER_VERSION } from '../../src/executor/index.js';

const PYTHON_DIR = fileURLToPath(new URL('../../src/executor/python/', import.meta.url));

test('the executor reports the version the Python tracer declares, not a copy that can drift', async () => {
  const result = await execa('/usr/bin/python3', ['-c', 'import tracer; print(tracer.TRACER_VERSION)'], { cwd: PYTHON_DIR });
  assert.equal(TRACER_VERSION, result.stdout.trim());
  assert.match(TRACER_VERSION, /^\d+\.\d+\.\d+$/);
});
