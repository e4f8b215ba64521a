import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTraceTopology } from '../../topologies/trace.js';
import { isTracestreamError } from '../../src/errors/index.js';
import type { SchemaRegistry } from '../../src/avro/index.js';

const client = { bootstrapServers: '127.0.0.1:1', clientId: 'options-test' };
const registry = {} as SchemaRegistry;

test('trace topology options are refused by name before anything starts', async () => {
  await assert.rejects(startTraceTopology({ client, registry, guarantee: 'exactly-once' }), (error) =>
    isTracestreamError(error, 'CONFIG_INVALID') && /startTraceTopology\.transactionalId: required when guarantee is 'exactly-once'/.test(error.message));
  await assert.rejects(startTraceTopology({ client, registry, maxDiffsPerRun: -1 }), (error) =>
    isTracestreamError(error, 'CONFIG_INVALID') && /startTraceTopology\.maxDiffsPerRun/.test(error.message));
});
