import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConsumerStatistics } from '../../src/kafka/index.js';

describe('consumer statistics', () => {
  it('reads broker states and the lag and end offsets of fetched partitions, leaving out the internal partition and unknown values', () => {
    // The shape librdkafka documents in STATISTICS.md, reduced to the fields read (values made up).
    const json = JSON.stringify({
      name: 'tracestream-consumer#consumer-1', type: 'consumer',
      brokers: {
        'localhost:9092/1': { name: 'localhost:9092/1', nodeid: 1, state: 'UP' },
        'localhost:9093/2': { name: 'localhost:9093/2', nodeid: 2, state: 'DOWN' },
        'GroupCoordinator': { name: 'GroupCoordinator', nodeid: -1, state: 'UP' },
      },
      topics: {
        solutions: {
          topic: 'solutions',
          partitions: {
            '0': { partition: 0, fetch_state: 'active', consumer_lag: 42, ls_offset: 142, lo_offset: 3 },
            '1': { partition: 1, fetch_state: 'active', consumer_lag: -1, ls_offset: -1, lo_offset: -1 },
            '2': { partition: 2, fetch_state: 'none', consumer_lag: 7 },
            '-1': { partition: -1, fetch_state: 'none', consumer_lag: -1 },
          },
        },
      },
    });
    assert.deepEqual(parseConsumerStatistics(json), {
      brokersUp: 2,
      brokersKnown: 3,
      partitions: [
        { topic: 'solutions', partition: 0, lag: 42, endOffset: 142, startOffset: 3 },
        { topic: 'solutions', partition: 1, lag: undefined, endOffset: undefined, startOffset: undefined },
      ],
    });
  });

  it('a document it cannot read gives undefined instead of throwing on the consumer callback', () => {
    assert.equal(parseConsumerStatistics('{not json'), undefined);
    assert.equal(parseConsumerStatistics(JSON.stringify({ topics: { t: { partitions: { '0': { partition: 'zero' } } } } })), undefined);
  });
});
