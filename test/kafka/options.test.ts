import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Kafka from '@confluentinc/kafka-javascript';
import { isTracestreamError } from '../../src/errors/index.js';
import { heartbeatIntervalOf, kafkaError, kafkaSource, startProcessor } from '../../src/kafka/index.js';

const client = { bootstrapServers: '127.0.0.1:1', clientId: 'options-test' };
const ERR = Kafka.CODES.ERRORS;

/** A librdkafka error as the native client hands it to callbacks. */
function librdkafkaError(code: number, isRetriable: boolean): Error & { code: number; isRetriable: boolean } {
  return Object.assign(new Error(`librdkafka ${code}`), { code, isRetriable, isFatal: false });
}

describe('one consumer base for both delivery guarantees', () => {
  it('heartbeats default to a third of the session timeout, at most 3 s', () => {
    assert.equal(heartbeatIntervalOf({ sessionTimeoutMs: 45_000 }), 3_000);
    assert.equal(heartbeatIntervalOf({ sessionTimeoutMs: 6_000 }), 2_000);
    assert.equal(heartbeatIntervalOf({ sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 }), 500);
  });

  for (const guarantee of ['at-least-once', 'exactly-once'] as const) {
    const start = (source: Record<string, unknown>) => {
      const processor = startProcessor({ client, groupId: 'g', topics: ['t'], transform: () => [], guarantee, transactionalId: 'tx', source });
      void processor.close().catch(() => undefined);
    };
    const what = guarantee === 'exactly-once' ? 'startExactlyOnce' : 'kafkaSource';

    it(`${guarantee}: a heartbeat above a third of the session timeout is refused by name`, () => {
      assert.throws(() => start({ sessionTimeoutMs: 6_000, heartbeatIntervalMs: 2_500 }), (error) =>
        isTracestreamError(error, 'CONFIG_INVALID') && new RegExp(`${what}\\.heartbeatIntervalMs`).test(error.message));
    });

    it(`${guarantee}: groupProtocol is read (an unknown one is refused by name, not ignored)`, () => {
      assert.throws(() => start({ groupProtocol: 'eager' }), (error) =>
        isTracestreamError(error, 'CONFIG_INVALID') && new RegExp(`${what}\\.groupProtocol`).test(error.message));
    });

    it(`${guarantee}: the connect timeout is an option`, () => {
      assert.throws(() => start({ connectTimeoutMs: 0 }), (error) =>
        isTracestreamError(error, 'CONFIG_INVALID') && new RegExp(`${what}\\.connectTimeoutMs`).test(error.message));
    });
  }

  it('kafkaSource validates when it is created, before any connection', () => {
    assert.throws(() => kafkaSource({ client, groupId: '', topics: ['t'] }), (error) => isTracestreamError(error, 'CONFIG_INVALID') && /kafkaSource\.groupId/.test(error.message));
  });
});

describe('Kafka errors carry the decision, not the librdkafka code', () => {
  it('a group that moved on (illegal generation, unknown member) needs a rejoin and keeps the retriable flag librdkafka gave', () => {
    for (const code of [ERR.ERR_ILLEGAL_GENERATION, ERR.ERR_UNKNOWN_MEMBER_ID, ERR.ERR_REBALANCE_IN_PROGRESS]) {
      const error = kafkaError('KAFKA_COMMIT_FAILED', 'commit refused', librdkafkaError(code, false));
      assert.equal(error.needsRejoin, true, `code ${code}`);
      assert.equal(error.retriable, false);
    }
  });

  it('a timeout is retriable and needs no rejoin', () => {
    const error = kafkaError('KAFKA_COMMIT_FAILED', 'commit timed out', librdkafkaError(ERR.ERR__TIMED_OUT, true));
    assert.equal(error.needsRejoin, false);
    assert.equal(error.retriable, true);
  });
});
