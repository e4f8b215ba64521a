import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startLiveServer, type LiveServer } from '../../src/live/index.js';
import { uniqueName } from '../helpers/broker.js';
import { diffEvent, traceCount, openSse, openStalledClient, produceTraces, runIdsOf, startLiveFixture, traceEvent, type LiveFixture, type SseClient } from './support.js';

/** 199 clients read; 3 of them the whole stream, the others only the small events (so the test moves ~30 MB, not 1.2 GB). */
const READERS = 199;
const FULL_READERS = 3;
const EVENTS = 48;
/** 128 KB a bulk trace: 48 of them (6 MB) overflow what the kernel buffers for a socket that is not read (~4 MB) and the client's limit. */
const EVENT_BYTES = 128 * 1024;
const CLIENT_BUFFER_BYTES = 1024 * 1024;

describe('serve: 200 clients on one stream, one of them never reading', () => {
  let fixture: LiveFixture;
  let server: LiveServer | undefined;
  const readers: SseClient[] = [];
  before(async () => {
    fixture = await startLiveFixture();
  });
  after(async () => {
    for (const reader of readers) reader.close();
    await server?.close();
    assert.equal(await fixture.close(), 0, 'the test broker exits 0');
  });

  it('drops the stalled client with a final event saying why; the others get every event; memory per client stays bounded', async () => {
    const topic = uniqueName('traces');
    const diffs = uniqueName('diffs');
    await produceTraces(fixture, topic, [traceEvent({ runId: 'existing#0' })]);
    await fixture.producer.send([{ topic: diffs, key: 'existing#0', value: await fixture.codec.encode('LineDiff', diffEvent('existing#0', 0)) }]);
    server = await startLiveServer({
      client: fixture.client, codec: fixture.codec, topics: { traces: topic, diffs }, port: 0,
      maxClientBufferBytes: CLIENT_BUFFER_BYTES, dropGraceMs: 60_000,
    });
    await server.ready;
    const url = `${server.url}/streams/traces`;
    for (let i = 0; i < READERS; i++) readers.push(openSse(i < FULL_READERS ? url : `${url}?problem=small`));
    const stalled = openStalledClient(url);
    await Promise.all(readers.map((reader) => reader.status));
    // The page's run watcher is not an event stream client here; wait until all 200 have joined.
    const deadline = Date.now() + 30_000;
    while (server.stats().clients < READERS + 1) {
      assert.ok(Date.now() < deadline, `only ${server.stats().clients} clients connected`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    let maxClientBuffered = 0;
    let maxTotalBuffered = 0;
    const sampler = setInterval(() => {
      const stats = server!.stats();
      maxClientBuffered = Math.max(maxClientBuffered, stats.maxClientBufferedBytes);
      maxTotalBuffered = Math.max(maxTotalBuffered, stats.bufferedBytes);
    }, 10);
    // Bulk and small events interleaved: the small ones keep coming before, while and after the stalled client is dropped.
    const traces = Array.from({ length: EVENTS }, (_, i) => [
      traceEvent({ runId: `big${i}#0`, problemId: 'bulk', stdoutBytes: EVENT_BYTES }),
      traceEvent({ runId: `small${i}#0`, problemId: 'small' }),
    ]).flat();
    for (let i = 0; i < traces.length; i += 8) await produceTraces(fixture, topic, traces.slice(i, i + 8));
    const expectedAll = traces.map((t) => t.runId).sort();
    const expectedSmall = traces.filter((t) => t.problemId === 'small').map((t) => t.runId).sort();

    await Promise.all(readers.map((reader, i) => reader.until(
      (events) => traceCount(events) >= (i < FULL_READERS ? expectedAll : expectedSmall).length || events.some((e) => e.event === 'dropped'),
      600_000,
    )));
    clearInterval(sampler);
    for (const [i, reader] of readers.entries()) {
      assert.deepEqual(runIdsOf(reader.events).sort(), i < FULL_READERS ? expectedAll : expectedSmall, `reader ${i} got every event of its stream, once`);
      assert.equal(reader.events.filter((e) => e.event === 'dropped').length, 0, `reader ${i} was not dropped`);
    }
    assert.equal(server.stats().clients, READERS, 'the stalled client was dropped, the readers were not');

    // One event over the limit at most, whatever the client does not read.
    const frameBytes = EVENT_BYTES + 4096;
    assert.ok(maxClientBuffered <= CLIENT_BUFFER_BYTES + frameBytes, `a client held ${maxClientBuffered} bytes`);
    assert.ok(maxTotalBuffered <= (READERS + 1) * (CLIENT_BUFFER_BYTES + frameBytes), `clients held ${maxTotalBuffered} bytes in all`);
    // Once the readers have caught up, nothing is held for anyone: the dropped client's buffer went with it.
    assert.ok(server.stats().bufferedBytes < 64 * 1024, `${server.stats().bufferedBytes} bytes still buffered`);

    // Once it reads, the stalled client finds the final event that says why it was dropped.
    let text = '';
    stalled.setEncoding('latin1');
    stalled.on('data', (chunk: string) => {
      text += chunk;
    });
    stalled.resume();
    await new Promise<void>((resolve) => stalled.once('close', () => resolve()));
    assert.match(text, /event: dropped\ndata: \{"reason":"too slow: \d+ bytes were waiting for this client \(limit 1048576\)/);
  });
});
