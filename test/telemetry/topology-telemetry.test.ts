import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TRACESTREAM_CLIENT_PROPERTIES } from '../../src/kafka/index.js';
import { createProducer, type KafkaClientConfig } from '../../src/kafka/index.js';
import { DEFAULT_TRACE_TOPICS } from '../../src/pipeline/index.js';
import { chooseTestBroker, startTestBroker, uniqueName, type TestBroker } from '../helpers/broker.js';
import { eventually, startCli as cli, telemetryUrl } from '../helpers/cli-process.js';
import { parsePrometheusText, type Exposition } from '../helpers/prometheus.js';

const TOPICS = DEFAULT_TRACE_TOPICS;

describe('topology trace serves /healthz, /readyz and /metrics', () => {
  let broker: TestBroker;
  let client: KafkaClientConfig;
  let dir: string;

  before(async () => {
    broker = await startTestBroker();
    client = { bootstrapServers: broker.bootstrapServers, clientId: 'tracestream-test', librdkafka: TRACESTREAM_CLIENT_PROPERTIES };
    dir = await mkdtemp(join(tmpdir(), 'tracestream-telemetry-test-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
    assert.equal(await broker.stop(), 0, 'tracestream broker exits 0 on SIGTERM');
  });

  it('is alive at once, ready once partitions are assigned, counts records, runs and dead letters as they flow, and drains on SIGTERM', { timeout: 180_000 }, async () => {
    const topology = cli([
      'topology', 'trace', '--brokers', broker.bootstrapServers, '--group-id', uniqueName('telemetry'),
      '--telemetry-port', '0', '--telemetry-host', '127.0.0.1', '--concurrency', '2', '--wall-time-ms', '2000',
      // Sandbox uids of our own: another pool on this host (a parallel test) sweeps the default ones.
      '--sandbox-uid-base', String(200_000 + Math.floor(Math.random() * 1_000_000)),
    ]);
    try {
      const url = await telemetryUrl(topology);
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      let lastReadiness = '';
      const ready = await eventually('/readyz answers 200', 90_000, async () => {
        const response = await fetch(`${url}/readyz`);
        lastReadiness = await response.text();
        return response.status === 200 ? lastReadiness : undefined;
      }).catch((error: unknown) => {
        throw new Error(`${String(error)}; last answer: ${lastReadiness}; output:\n${topology.output()}`);
      });
      assert.match(ready, /^ready: \d+ partition\(s\) of solutions assigned/);

      const scrape = async (): Promise<Exposition> => {
        const response = await fetch(`${url}/metrics`);
        assert.equal(response.status, 200);
        return parsePrometheusText(await response.text());
      };
      const before = await scrape();
      assert.equal(before.sum('tracestream_records_in_total'), 0, 'nothing consumed before records are produced');
      assert.ok(before.value('tracestream_assigned_partitions') >= 1);

      const programDir = await mkdtemp(join(dir, 'programs-'));
      await writeFile(join(programDir, 'tele_ok.py'), 'x = 1\nprint(x + 1)\n');
      await writeFile(join(programDir, 'tele_error.py'), 'raise ValueError("no")\n');
      await writeFile(join(programDir, 'tele_loop.py'), 'for i in range(3):\n    print(i)\n');
      const produce = cli(['produce', programDir, '--brokers', broker.bootstrapServers]);
      assert.equal(await produce.exited, 0, produce.output());
      const producer = await createProducer({ client });
      try {
        await producer.send([{ topic: TOPICS.solutions, key: Buffer.from('garbage'), value: Buffer.from('not an Avro event') }]);
      } finally {
        await producer.close();
      }

      const after = await eventually('the metrics count 4 records in and 4 delivered inputs', 120_000, async () => {
        const exposition = await scrape();
        const delivered = exposition.value('tracestream_records_out_total', { topic: TOPICS.traces }) + exposition.value('tracestream_records_out_total', { topic: TOPICS.deadLetters });
        return delivered === 4 && exposition.value('tracestream_in_flight_records') === 0 ? exposition : undefined;
      });
      assert.equal(after.value('tracestream_records_in_total', { topic: TOPICS.solutions }), 4);
      assert.equal(after.value('tracestream_records_out_total', { topic: TOPICS.traces }), 3, 'one trace per program');
      assert.ok(after.value('tracestream_records_out_total', { topic: TOPICS.diffs }) >= 3, 'diffs are counted by their own topic');
      assert.equal(after.sum('tracestream_dead_letters_total'), 1, 'the malformed record is one dead letter');
      assert.equal(after.value('tracestream_records_out_total', { topic: TOPICS.deadLetters }), 1);
      const runs = JSON.stringify(after.samples.filter((s) => s.name === 'tracestream_executor_runs_total'));
      assert.equal(after.value('tracestream_executor_runs_total', { outcome: 'ok' }), 2, runs);
      assert.equal(after.value('tracestream_executor_runs_total', { outcome: 'error' }), 1, runs);
      assert.equal(after.sum('tracestream_executor_run_duration_seconds_count'), 3, 'every run lands in the duration histogram');
      assert.equal(after.types.get('tracestream_consumer_lag_records'), 'gauge');
      await eventually('librdkafka statistics report the lag of the owned partitions (0 once all is committed)', 30_000, async () => {
        const exposition = await scrape();
        const lags = exposition.samples.filter((s) => s.name === 'tracestream_consumer_lag_records');
        return lags.length > 0 && lags.every((s) => s.value === 0) ? true : undefined;
      });

      topology.child.kill('SIGTERM');
      assert.equal(await topology.exited, 0, `the topology drains and exits 0 on SIGTERM; output:\n${topology.output()}`);
    } finally {
      await topology.stop();
    }
  });
});

describe('topology trace when every broker dies while nothing is produced', () => {
  // The test stops the cluster: one named by KAFKA_BROKERS is not its to stop.
  const skip = chooseTestBroker(process.env).kind === 'external' && 'KAFKA_BROKERS names a cluster this test cannot stop';

  it('turns /readyz to 503 naming the unreachable cluster, then stops with KAFKA_DISCONNECTED and exits non-zero', { skip, timeout: 240_000 }, async () => {
    const broker = await startTestBroker();
    const topology = cli([
      'topology', 'trace', '--brokers', broker.bootstrapServers, '--group-id', uniqueName('cluster-down'),
      '--telemetry-port', '0', '--telemetry-host', '127.0.0.1', '--concurrency', '1', '--cluster-down-timeout-ms', '20000',
      '--sandbox-uid-base', String(200_000 + Math.floor(Math.random() * 1_000_000)),
    ]);
    try {
      const url = await telemetryUrl(topology);
      await eventually('/readyz answers 200', 90_000, async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined));
      await broker.stop();
      const unready = await eventually('/readyz answers 503 naming the cluster', 60_000, async () => {
        const response = await fetch(`${url}/readyz`);
        const text = await response.text();
        return response.status === 503 && /unreachable/.test(text) ? text : undefined;
      });
      assert.match(unready, /Kafka cluster unreachable/);
      const code = await Promise.race([
        topology.exited,
        new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error(`still running; output:\n${topology.output()}`)), 180_000).unref()),
      ]);
      assert.notEqual(code, 0, topology.output());
      assert.match(topology.output(), /KAFKA_DISCONNECTED|no Kafka broker answered/);
    } finally {
      await topology.stop();
      await broker.stop();
    }
  });
});
