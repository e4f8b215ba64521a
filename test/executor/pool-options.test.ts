import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTracestreamError } from '../../src/errors/index.js';
import { createExecutorPool } from '../../src/executor/index.js';

test('pool options are refused by name before any interpreter starts', async () => {
  await assert.rejects(createExecutorPool({ concurrency: 0 }), (error) =>
    isTracestreamError(error, 'CONFIG_INVALID') && /createExecutorPool\.concurrency/.test(error.message));
  await assert.rejects(createExecutorPool({ concurrency: 2, maxQueued: -1 }), (error) =>
    isTracestreamError(error, 'CONFIG_INVALID') && /createExecutorPool\.maxQueued/.test(error.message));
  await assert.rejects(createExecutorPool({ concurrency: 4, sandboxUidCount: 2 }), (error) =>
    isTracestreamError(error, 'CONFIG_INVALID') && /createExecutorPool\.sandboxUidCount: must be at least concurrency/.test(error.message));
});
