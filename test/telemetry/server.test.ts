import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter } from 'prom-client';
import { createMetricsRegistry, deadLetterReason, startTelemetryServer, topologyMetrics, type Readiness } from '../../src/telemetry/index.js';
import { TracestreamError, isTracestreamError } from '../../src/errors/index.js';
import { parsePrometheusText } from '../helpers/prometheus.js';

async function get(url: string): Promise<{ status: number; body: string; type: string | null }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text(), type: response.headers.get('content-type') };
}

describe('telemetry server', () => {
  it('answers /healthz 200, /readyz from the readiness check (503 with the reason until ready), /metrics in Prometheus text', async () => {
    let readiness: Readiness = { ready: false, reason: 'no partitions yet' };
    const registry = createMetricsRegistry();
    const server = await startTelemetryServer({ port: 0, host: '127.0.0.1', registry, readiness: () => readiness });
    try {
      assert.deepEqual(await get(`${server.url}/healthz`), { status: 200, body: 'ok\n', type: 'text/plain; charset=utf-8' });
      assert.deepEqual(await get(`${server.url}/readyz`), { status: 503, body: 'not ready: no partitions yet\n', type: 'text/plain; charset=utf-8' });
      readiness = { ready: true, reason: '3 partitions' };
      assert.deepEqual(await get(`${server.url}/readyz`), { status: 200, body: 'ready: 3 partitions\n', type: 'text/plain; charset=utf-8' });

      const metrics = await get(`${server.url}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(metrics.type ?? '', /^text\/plain; version=0\.0\.4/);
      const exposition = parsePrometheusText(metrics.body);
      assert.equal(exposition.types.get('process_start_time_seconds'), 'gauge', 'process metrics are included (a restart shows as a new start time)');
      assert.equal((await get(`${server.url}/nope`)).status, 404);
      assert.equal((await fetch(`${server.url}/healthz`, { method: 'POST' })).status, 405);
    } finally {
      await server.close();
      await server.close();
    }
    await assert.rejects(fetch(`${server.url}/healthz`), 'a closed server refuses connections');
  });

  it('metrics registered by another module in the registry are served, and the topology metrics move as they are counted', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const metrics = topologyMetrics(registry);
    assert.equal(topologyMetrics(registry), metrics, 'asking twice gives the same set instead of a duplicate-name error');
    const custom = new Counter({ name: 'model_steps_total', help: 'Training steps.', registers: [registry] });
    const server = await startTelemetryServer({ port: 0, host: '127.0.0.1', registry, readiness: () => ({ ready: true, reason: 'ok' }) });
    try {
      custom.inc(2);
      metrics.recordsIn.inc({ topic: 'solutions' }, 5);
      metrics.runDurationSeconds.observe({ outcome: 'ok' }, 0.03);
      metrics.runDurationSeconds.observe({ outcome: 'ok' }, 4);
      const exposition = parsePrometheusText((await get(`${server.url}/metrics`)).body);
      assert.equal(exposition.value('model_steps_total'), 2);
      assert.equal(exposition.value('tracestream_records_in_total', { topic: 'solutions' }), 5);
      assert.equal(exposition.types.get('tracestream_executor_run_duration_seconds'), 'histogram');
      assert.equal(exposition.value('tracestream_executor_run_duration_seconds_count', { outcome: 'ok' }), 2);
      assert.equal(exposition.value('tracestream_executor_run_duration_seconds_bucket', { outcome: 'ok', le: '0.04' }), 1, 'a 30 ms run falls in the 40 ms bucket');
    } finally {
      await server.close();
    }
  });

  it('a readiness check that throws or hangs answers 503 with why, never a hung probe', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const throwing = await startTelemetryServer({ port: 0, host: '127.0.0.1', registry, readiness: () => { throw new Error('consumer gone'); } });
    const hanging = await startTelemetryServer({ port: 0, host: '127.0.0.1', registry, readinessTimeoutMs: 100, readiness: () => new Promise<Readiness>(() => {}) });
    try {
      assert.deepEqual(await get(`${throwing.url}/readyz`), { status: 503, body: 'not ready: readiness check failed: Error: consumer gone\n', type: 'text/plain; charset=utf-8' });
      assert.deepEqual(await get(`${hanging.url}/readyz`), { status: 503, body: 'not ready: readiness check took longer than 100 ms\n', type: 'text/plain; charset=utf-8' });
    } finally {
      await throwing.close();
      await hanging.close();
    }
  });

  it('a port already in use fails start with CONFIG_INVALID naming the address', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const first = await startTelemetryServer({ port: 0, host: '127.0.0.1', registry, readiness: () => ({ ready: true, reason: '' }) });
    try {
      await assert.rejects(
        startTelemetryServer({ port: first.port, host: '127.0.0.1', registry, readiness: () => ({ ready: true, reason: '' }) }),
        (error: unknown) => isTracestreamError(error, 'CONFIG_INVALID') && error.message.includes(`127.0.0.1:${first.port}`),
      );
    } finally {
      await first.close();
    }
  });

  it('dead-letter reasons become labels with few values: the error code, or the fixed phrase before the details', () => {
    assert.equal(deadLetterReason('undecodable SolutionSubmitted: bad magic byte 0x6e at offset 0', new TracestreamError('DECODE_FAILED', 'bad magic')), 'DECODE_FAILED');
    assert.equal(deadLetterReason('undecodable SolutionSubmitted: unexpected end of input', new Error('x')), 'undecodable SolutionSubmitted');
    assert.equal(deadLetterReason('record has no value (tombstone)', undefined), 'record has no value (tombstone)');
    assert.equal(deadLetterReason('', undefined), 'unknown');
  });
});
