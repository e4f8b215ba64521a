import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventId, parseEventId } from '../../src/live/index.js';

describe('event ids', () => {
  it('name the event and carry the position of every partition, which parses back', () => {
    const id = eventId('traces', 2, 157, new Map([[0, 12], [1, 57], [2, 158]]));
    assert.equal(id, 'traces/2/157;0:12,1:57,2:158');
    const { topic, cursor } = parseEventId(id);
    assert.equal(topic, 'traces');
    assert.deepEqual([...cursor], [[0, 12], [1, 57], [2, 158]]);
  });

  it('refuse ids this server did not make (forged, truncated, out of range)', () => {
    for (const bad of ['', 'traces/2/157', 'traces/2/157;', '../x/1/1;0:1', 'traces/1/1;0:1,x:2', `traces/1/1;0:${'9'.repeat(30)}`]) {
      assert.throws(() => parseEventId(bad), (error: Error & { code?: string }) => error.code === 'INPUT_INVALID', bad);
    }
  });
});
