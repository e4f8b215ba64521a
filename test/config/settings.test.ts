import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readSettings, SETTINGS } from '../../src/config/settings.js';
import { isTracestreamError } from '../../src/errors/index.js';

test('a flag beats the environment, which beats the default', () => {
  assert.equal(readSettings({}, {}).maxDiffsPerRun, SETTINGS.maxDiffsPerRun.default);
  assert.equal(readSettings({}, { TRACESTREAM_MAX_DIFFS_PER_RUN: '7' }).maxDiffsPerRun, 7);
  assert.equal(readSettings({ 'max-diffs-per-run': '3' }, { TRACESTREAM_MAX_DIFFS_PER_RUN: '7' }).maxDiffsPerRun, 3);
  assert.equal(readSettings({}, {}).groupProtocol, undefined, 'unset: the topology chooses by cluster');
  assert.equal(readSettings({ 'group-protocol': 'consumer' }, {}).groupProtocol, 'consumer');
});

test('an invalid value is CONFIG_INVALID naming both the flag and the variable', () => {
  assert.throws(() => readSettings({ 'group-protocol': 'fast' }, {}), (error: unknown) =>
    isTracestreamError(error, 'CONFIG_INVALID') && /--group-protocol \/ TRACESTREAM_GROUP_PROTOCOL/.test(error.message));
  assert.throws(() => readSettings({}, { TRACESTREAM_WALL_TIME_MS: '-5' }), (error: unknown) =>
    isTracestreamError(error, 'CONFIG_INVALID') && /--wall-time-ms \/ TRACESTREAM_WALL_TIME_MS/.test(error.message));
});
