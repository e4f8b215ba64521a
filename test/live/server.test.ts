import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LineDiff } from '../../src/avro/index.js';
import { startLiveServer, type LiveServer, type LiveServerOptions } from '../../src/live/index.js';
import { uniqueName } from '../helpers/broker.js';
import { diffEvent, openSse, produceTraces, runIdsOf, startLiveFixture, traceEvent, type LiveFixture, type SseClient } from './support.js';

describe('serve: Server-Sent Events', () => {
  let fixture: LiveFixture;
  const servers: LiveServer[] = [];
  const clients: SseClient[] = [];
  before(async () => {
    fixture = await startLiveFixture();
  });
  after(async () => {
    for (const client of clients) client.close();
    await Promise.all(servers.map((server) => server.close()));
    assert.equal(await fixture.close(), 0, 'the test broker exits 0');
  });

  /** A server on its own topics (which exist before it starts), ready to serve. */
  async function serve(extra: Partial<LiveServerOptions> = {}): Promise<{ server: LiveServer; traces: string; diffs: string }> {
    const traces = uniqueName('traces');
    const diffs = uniqueName('diffs');
    await produceTraces(fixture, traces, [traceEvent({ runId: 'existing#0' })]);
    await fixture.producer.send([{ topic: diffs, key: 'existing#0', value: await fixture.codec.encode('LineDiff', diffEvent('existing#0', 0)) }]);
    const server = await startLiveServer({ client: fixture.client, codec: fixture.codec, topics: { traces, diffs }, port: 0, ...extra });
    servers.push(server);
    await server.ready;
    return { server, traces, diffs };
  }

  function sse(url: string, headers: Record<string, string> = {}): SseClient {
    const client = openSse(url, headers);
    clients.push(client);
    return client;
  }

  it('a client gets the events produced after it connected, filtered by the query', async () => {
    const { server, traces, diffs } = await serve();
    const all = sse(`${server.url}/streams/traces`);
    const filtered = sse(`${server.url}/streams/traces?problem=wanted&outcome=timeout`);
    const diffsOfOne = sse(`${server.url}/streams/diffs?solution=s1`);
    const diffsOfTimeouts = sse(`${server.url}/streams/diffs?problem=wanted&outcome=timeout`);
    assert.equal(await diffsOfTimeouts.status, 200);
    assert.equal(await all.status, 200);
    assert.equal(await filtered.status, 200);
    assert.equal(await diffsOfOne.status, 200);
    await produceTraces(fixture, traces, [
      traceEvent({ runId: 'a#0', problemId: 'wanted', outcome: 'timeout' }),
      traceEvent({ runId: 'b#0', problemId: 'other', outcome: 'timeout' }),
      traceEvent({ runId: 'c#0', problemId: 'wanted', outcome: 'ok' }),
    ]);
    const runOf = { 's1#0': { problemId: 'wanted', outcome: 'timeout' }, 's2#0': { problemId: 'wanted', outcome: 'ok' }, 's3#0': { problemId: 'other', outcome: 'timeout' } } as const;
    const diffRecords = await Promise.all((['s1#0', 's2#0', 's3#0', 's1#0'] as const).map(async (runId, i) => ({ topic: diffs, key: runId, value: await fixture.codec.encode('LineDiff', diffEvent(runId, i, runOf[runId])) })));
    await fixture.producer.send(diffRecords);
    await all.until((events) => runIdsOf(events).length === 3);
    await filtered.until((events) => runIdsOf(events).length === 1);
    await diffsOfOne.until((events) => events.filter((e) => e.event === 'diff').length === 2);
    await diffsOfTimeouts.until((events) => events.filter((e) => e.event === 'diff').length === 2);
    assert.deepEqual(runIdsOf(all.events).sort(), ['a#0', 'b#0', 'c#0'], 'nothing produced before it connected');
    assert.deepEqual(runIdsOf(filtered.events), ['a#0']);
    assert.deepEqual(diffsOfOne.events.filter((e) => e.event === 'diff').map((e) => (JSON.parse(e.data) as LineDiff).runId), ['s1#0', 's1#0']);
    assert.deepEqual(diffsOfTimeouts.events.filter((e) => e.event === 'diff').map((e) => (JSON.parse(e.data) as LineDiff).runId), ['s1#0', 's1#0'], 'diffs filtered by their run\'s problem and outcome');
    for (const event of all.events.filter((e) => e.event === 'trace')) assert.match(event.id ?? '', new RegExp(`^${traces}/\\d+/\\d+;`), 'the id names topic/partition/offset');
    assert.equal(await sse(`${server.url}/streams/traces?outcome=fine`).status, 400, 'an unknown outcome is refused');
  });

  it('Last-Event-ID resumes right after that event: nothing lost, nothing twice, also for a filtered stream', async () => {
    const { server, traces } = await serve();
    for (const query of ['', '?problem=even']) {
      const first = sse(`${server.url}/streams/traces${query}`);
      assert.equal(await first.status, 200);
      const batch1 = Array.from({ length: 12 }, (_, i) => traceEvent({ runId: `r${query.length}-${i}#0`, problemId: i % 2 === 0 ? 'even' : 'odd' }));
      await produceTraces(fixture, traces, batch1);
      const expected1 = batch1.filter((t) => query === '' || t.problemId === 'even').map((t) => t.runId);
      await first.until((events) => runIdsOf(events).length === expected1.length);
      // Disconnect after the third event it got; then more is written while it is away.
      const seen = first.events.filter((e) => e.event === 'trace');
      const resumeAt = seen[2]!;
      first.close();
      const batch2 = Array.from({ length: 8 }, (_, i) => traceEvent({ runId: `s${query.length}-${i}#0`, problemId: i % 2 === 0 ? 'even' : 'odd' }));
      await produceTraces(fixture, traces, batch2);
      const expected2 = batch2.filter((t) => query === '' || t.problemId === 'even').map((t) => t.runId);

      const resumed = sse(`${server.url}/streams/traces${query}`, { 'last-event-id': resumeAt.id! });
      const wanted = [...runIdsOf(seen.slice(3)), ...expected2];
      await resumed.until((events) => runIdsOf(events).length >= wanted.length);
      // Anything wrongly sent again would arrive right behind: give it a moment.
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.deepEqual(runIdsOf(resumed.events).sort(), wanted.sort(), `resumed ${query || 'unfiltered'} stream`);

      // Resuming from its own last event, with nothing new: it stays quiet, then gets what comes next.
      const last = resumed.events.filter((e) => e.event === 'trace').at(-1)!;
      resumed.close();
      const again = sse(`${server.url}/streams/traces${query}`, { 'last-event-id': last.id! });
      assert.equal(await again.status, 200);
      await produceTraces(fixture, traces, [traceEvent({ runId: `t${query.length}#0`, problemId: 'even' })]);
      await again.until((events) => runIdsOf(events).length === 1);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(runIdsOf(again.events), [`t${query.length}#0`]);
      again.close();
    }
  });

  it('?from=beginning replays what the topic holds, then goes on live without duplicates', async () => {
    const { server, traces } = await serve();
    await produceTraces(fixture, traces, [traceEvent({ runId: 'old1#0' }), traceEvent({ runId: 'old2#0' })]);
    const replay = sse(`${server.url}/streams/traces?from=beginning`);
    await replay.until((events) => runIdsOf(events).length === 3);
    await produceTraces(fixture, traces, [traceEvent({ runId: 'new1#0' }), traceEvent({ runId: 'new2#0' })]);
    await replay.until((events) => runIdsOf(events).length >= 5);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(runIdsOf(replay.events).sort(), ['existing#0', 'new1#0', 'new2#0', 'old1#0', 'old2#0']);
  });

  it('is safe by default: loopback only without a token, a token checked when set, no CORS unless asked', async () => {
    await assert.rejects(startLiveServer({ client: fixture.client, codec: fixture.codec, host: '0.0.0.0', port: 0 }), /needs a bearer token/);
    const token = 'a-token-of-enough-length';
    const { server } = await serve({ token });
    assert.equal((await fetch(`${server.url}/api/runs`)).status, 401);
    assert.equal((await fetch(`${server.url}/api/runs`, { headers: { authorization: 'Bearer a-token-of-enough-lengtX' } })).status, 401);
    assert.equal((await fetch(`${server.url}/api/runs`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    assert.equal((await fetch(`${server.url}/api/runs?access_token=${token}`)).status, 200);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'probes need no token');
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
    const page = await fetch(`${server.url}/?access_token=${token}`, { headers: { origin: 'https://elsewhere.example' } });
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('access-control-allow-origin'), null);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);

    const { server: open } = await serve({ corsOrigin: 'https://tools.example' });
    const allowed = await fetch(`${open.url}/api/runs`, { headers: { origin: 'https://tools.example' } });
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://tools.example');
    const other = await fetch(`${open.url}/api/runs`, { headers: { origin: 'https://elsewhere.example' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });
});
