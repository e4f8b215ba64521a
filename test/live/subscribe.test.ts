import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { firstValueFrom, take, toArray, type Subscription } from 'rxjs';
import { subscribe, type LiveEvent } from '../../src/live/index.js';
import { uniqueName } from '../helpers/broker.js';
import { produceTraces, startLiveFixture, traceEvent, type LiveFixture } from './support.js';

describe('subscribe()', () => {
  let fixture: LiveFixture;
  before(async () => {
    fixture = await startLiveFixture();
  });
  after(async () => {
    assert.equal(await fixture.close(), 0, 'the test broker exits 0');
  });

  /** Subscribes and resolves once the consumer has its partitions, with what it received and a way to stop. */
  async function subscribed(topic: string, filter: Parameters<typeof subscribe>[1], from: Parameters<typeof subscribe>[2]['from'] = 'now') {
    const received: LiveEvent<'traces'>[] = [];
    let closed: Promise<void> = Promise.resolve();
    let subscription!: Subscription;
    await new Promise<void>((resolve, reject) => {
      subscription = subscribe('traces', filter, { client: fixture.client, codec: fixture.codec, topic, from }, {
        onAssigned: () => resolve(),
        onClosing: (c) => {
          closed = c;
        },
      }).subscribe({ next: (event) => received.push(event), error: reject });
    });
    return {
      received,
      async stop() {
        subscription.unsubscribe();
        await closed;
      },
    };
  }

  async function until(check: () => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('from now: gets the events produced after it subscribed, not those before, with the filter applied', async () => {
    const topic = uniqueName('traces');
    await produceTraces(fixture, topic, [traceEvent({ runId: 'before#0', problemId: 'wanted' })]);
    const reader = await subscribed(topic, { problem: 'wanted', outcome: 'timeout' });
    await produceTraces(fixture, topic, [
      traceEvent({ runId: 'a#0', problemId: 'wanted', outcome: 'timeout' }),
      traceEvent({ runId: 'b#0', problemId: 'other', outcome: 'timeout' }),
      traceEvent({ runId: 'c#0', problemId: 'wanted', outcome: 'ok' }),
      traceEvent({ runId: 'd#0', problemId: 'wanted', outcome: 'timeout' }),
    ]);
    await until(() => reader.received.length >= 2);
    // The last record was already produced: give a wrongly matched one time to show up too.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await reader.stop();
    assert.deepEqual(reader.received.map((e) => e.event.runId).sort(), ['a#0', 'd#0']);
    for (const event of reader.received) {
      assert.equal(event.topic, topic);
      assert.equal(event.stream, 'traces');
      assert.ok(event.offset >= 0);
    }
  });

  it('from beginning, a time and saved offsets: replays exactly the records at and after that start', async () => {
    const topic = uniqueName('traces');
    await produceTraces(fixture, topic, [traceEvent({ runId: 'old1#0' }), traceEvent({ runId: 'old2#0' })]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const middleMs = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await produceTraces(fixture, topic, [traceEvent({ runId: 'new1#0' }), traceEvent({ runId: 'new2#0' })]);

    const all = await firstValueFrom(subscribe('traces', {}, { client: fixture.client, codec: fixture.codec, topic, from: 'beginning' }).pipe(take(4), toArray()));
    assert.deepEqual(all.map((e) => e.event.runId).sort(), ['new1#0', 'new2#0', 'old1#0', 'old2#0']);

    const since = await firstValueFrom(subscribe('traces', {}, { client: fixture.client, codec: fixture.codec, topic, from: { timestampMs: middleMs } }).pipe(take(2), toArray()));
    assert.deepEqual(since.map((e) => e.event.runId).sort(), ['new1#0', 'new2#0']);

    // Offsets just past the old records, as a saved cursor would give them.
    const offsets: Record<string, number> = {};
    for (const event of all) {
      if (event.event.runId.startsWith('old')) offsets[String(event.partition)] = Math.max(offsets[String(event.partition)] ?? 0, event.offset + 1);
    }
    const after = await firstValueFrom(subscribe('traces', {}, { client: fixture.client, codec: fixture.codec, topic, from: { offsets } }).pipe(take(2), toArray()));
    assert.deepEqual(after.map((e) => e.event.runId).sort(), ['new1#0', 'new2#0']);
  });

  it('unsubscribing closes the consumer (its disconnect resolves)', async () => {
    const topic = uniqueName('traces');
    await produceTraces(fixture, topic, [traceEvent({ runId: 'early#0' })]);
    const reader = await subscribed(topic, {});
    await reader.stop();
    await produceTraces(fixture, topic, [traceEvent({ runId: 'late#0' })]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(reader.received.length, 0);
  });

  it('refuses unknown outcomes, naming the field', () => {
    assert.throws(() => subscribe('traces', { outcome: 'fine' as never }, { client: fixture.client, codec: fixture.codec }), /subscribe filter\.outcome/);
  });
});
