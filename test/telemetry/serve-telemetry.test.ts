import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, startCli, telemetryUrl } from '../helpers/cli-process.js';
import { parsePrometheusText, type Exposition } from '../helpers/prometheus.js';
import { diffEvent, openSse, openStalledClient, produceTraces, startLiveFixture, traceCount, traceEvent, type LiveFixture } from '../live/support.js';

/** 48 traces of 128 KB (6 MB) overflow what the kernel buffers for a socket that is not read (~4 MB) plus the client limit. */
const BULK_EVENTS = 48;
const EVENT_BYTES = 128 * 1024;
const CLIENT_BUFFER_BYTES = 1024 * 1024;

async function scrape(url: string): Promise<Exposition> {
  const response = await fetch(`${url}/metrics`);
  assert.equal(response.status, 200);
  return parsePrometheusText(await response.text());
}

describe('serve serves /healthz, /readyz and /metrics on the telemetry port', () => {
  let fixture: LiveFixture;
  before(async () => {
    fixture = await startLiveFixture();
  });
  after(async () => {
    assert.equal(await fixture.close(), 0, 'the test broker exits 0');
  });

  it('is ready once both streams are open; counts clients connected, events delivered and a slow client dropped as traces flow; drains on SIGTERM', { timeout: 300_000 }, async () => {
    // The streams read topics that exist: the trace topology's, created by a first record each.
    await produceTraces(fixture, 'traces', [traceEvent({ runId: 'before#0' })]);
    await fixture.producer.send([{ topic: 'diffs', key: 'before#0', value: await fixture.codec.encode('LineDiff', diffEvent('before#0', 0)) }]);
    const serve = startCli([
      'serve', '--brokers', fixture.broker.bootstrapServers, '--port', '0', '--client-buffer-bytes', String(CLIENT_BUFFER_BYTES),
      '--telemetry-port', '0', '--telemetry-host', '127.0.0.1',
    ]);
    const readers: { close(): void }[] = [];
    try {
      const url = await telemetryUrl(serve);
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      let last = '';
      const ready = await eventually('/readyz answers 200', 120_000, async () => {
        const response = await fetch(`${url}/readyz`);
        last = await response.text();
        return response.status === 200 ? last : undefined;
      }).catch((error: unknown) => {
        throw new Error(`${String(error)}; last answer: ${last}; output:\n${serve.output()}`);
      });
      assert.match(ready, /^ready: streams over traces and diffs are open/);
      const serveUrl = await eventually('serve prints its address', 30_000, async () => /serving live traces at (http:\/\/\S+)\/ /.exec(serve.output())?.[1]);

      const before = await scrape(url);
      assert.equal(before.types.get('tracestream_live_clients'), 'gauge');
      assert.equal(before.sum('tracestream_live_clients'), 0, 'no client before one connects');
      assert.equal(before.sum('tracestream_live_events_delivered_total'), 0);

      // The reader takes the small events only, so it keeps up on a loaded machine; the stalled client takes them all.
      const reader = openSse(`${serveUrl}/streams/traces?problem=small`);
      readers.push(reader);
      const stalled = openStalledClient(`${serveUrl}/streams/traces`);
      readers.push({ close: () => stalled.destroy() });
      assert.equal(await reader.status, 200);
      await eventually('both clients show as connected', 30_000, async () => ((await scrape(url)).value('tracestream_live_clients', { stream: 'traces' }) === 2 ? true : undefined));

      const traces = Array.from({ length: BULK_EVENTS }, (_, i) => [
        traceEvent({ runId: `bulk${i}#0`, problemId: 'bulk', stdoutBytes: EVENT_BYTES }),
        traceEvent({ runId: `small${i}#0`, problemId: 'small' }),
      ]).flat();
      for (let i = 0; i < traces.length; i += 8) await produceTraces(fixture, 'traces', traces.slice(i, i + 8));
      await reader.until((events) => traceCount(events) >= BULK_EVENTS, 120_000);

      const after = await eventually('the stalled client is counted as dropped for being too slow', 60_000, async () => {
        const exposition = await scrape(url);
        return exposition.value('tracestream_live_clients_dropped_total', { reason: 'too-slow' }) === 1 ? exposition : undefined;
      });
      assert.equal(after.value('tracestream_live_clients', { stream: 'traces' }), 1, 'the reader stays connected, the stalled client is gone');
      const delivered = after.value('tracestream_live_events_delivered_total', { stream: 'traces' });
      assert.equal(traceCount(reader.events), BULK_EVENTS);
      assert.ok(delivered > BULK_EVENTS && delivered < 3 * BULK_EVENTS, `the reader's ${BULK_EVENTS} events and those the stalled client took before it was dropped: ${delivered}`);
      assert.equal(after.sum('tracestream_live_clients_dropped_total'), 1, 'no other client was dropped');

      reader.close();
      await eventually('a client that leaves is no longer counted', 30_000, async () => ((await scrape(url)).sum('tracestream_live_clients') === 0 ? true : undefined));
      assert.equal((await scrape(url)).sum('tracestream_live_clients_dropped_total'), 1, 'a client that leaves on its own is not a drop');

      serve.child.kill('SIGTERM');
      assert.equal(await serve.exited, 0, `serve exits 0 on SIGTERM; output:\n${serve.output()}`);
    } finally {
      for (const reader of readers) reader.close();
      await serve.stop();
    }
  });
});
