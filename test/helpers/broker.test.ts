import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { isTracestreamError } from '../../src/errors/index.js';
import { TestBrokerUnavailableError, chooseTestBroker, startTestBroker } from './broker.js';

const OPT_IN = { TRACESTREAM_TEST_KAFKA: 'testcontainers' } as const;

test('the test cluster is KAFKA_BROKERS when set, else testcontainers when opted in, else the mock', () => {
  assert.deepEqual(chooseTestBroker({}), { kind: 'mock' });
  assert.deepEqual(chooseTestBroker({ TRACESTREAM_TEST_KAFKA: '' }), { kind: 'mock' });
  assert.deepEqual(chooseTestBroker(OPT_IN), { kind: 'testcontainers' });
  assert.deepEqual(chooseTestBroker({ ...OPT_IN, KAFKA_BROKERS: '' }), { kind: 'testcontainers' });
  assert.deepEqual(chooseTestBroker({ ...OPT_IN, KAFKA_BROKERS: 'k1:9092,k2:9092' }), { kind: 'external', bootstrapServers: 'k1:9092,k2:9092' });
});

test('an unknown TRACESTREAM_TEST_KAFKA value is CONFIG_INVALID rather than a silent mock', () => {
  assert.throws(() => chooseTestBroker({ TRACESTREAM_TEST_KAFKA: 'docker' }), (error: unknown) =>
    isTracestreamError(error, 'CONFIG_INVALID') && /TRACESTREAM_TEST_KAFKA/.test(error.message));
});

test('opted in to testcontainers without a Docker engine, startTestBroker rejects saying so instead of falling back to the mock', async () => {
  const noEngine = new Error('Could not find a working container runtime strategy');
  await assert.rejects(
    startTestBroker({ env: OPT_IN, probeContainerRuntime: () => Promise.reject(noEngine) }),
    (error: unknown) => {
      assert.ok(error instanceof TestBrokerUnavailableError);
      assert.equal(error.cause, noEngine);
      assert.match(error.message, /^TRACESTREAM_TEST_KAFKA=testcontainers asks for a real Kafka broker in Docker, but no Docker engine is reachable \(Could not find a working container runtime strategy\)/);
      return true;
    },
  );
});

test('without the opt-in the mock cluster starts, Docker is never probed and testcontainers is never loaded', { timeout: 60_000 }, async () => {
  let probed = false;
  const broker = await startTestBroker({
    env: { ...process.env, KAFKA_BROKERS: '', TRACESTREAM_TEST_KAFKA: '' },
    probeContainerRuntime: () => {
      probed = true;
      return Promise.resolve();
    },
  });
  try {
    assert.equal(broker.mock, true);
    assert.match(broker.bootstrapServers, /^[\w.:[\]-]+:\d+(,[\w.:[\]-]+:\d+)*$/);
    assert.equal(probed, false);
    // import() of a CommonJS package goes through the CommonJS loader, whose cache this is.
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((path) => /[\\/]node_modules[\\/](testcontainers|@testcontainers)[\\/]/.test(path));
    assert.deepEqual(loaded, []);
  } finally {
    assert.equal(await broker.stop(), 0, 'the broker stops cleanly even when stopped right after it printed its address');
  }
});
