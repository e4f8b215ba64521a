import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createAvroCodec, openSchemaRegistry, type ExecutionTrace, type SchemaRegistry } from '../../src/avro/index.js';
import { splitOf } from '../../src/dataset/splits.js';
import { eventually, startCli, telemetryUrl } from '../helpers/cli-process.js';
import { parsePrometheusText, type Exposition } from '../helpers/prometheus.js';
import { useKafkaFixture, type KafkaFixture } from '../kafka/support.js';
import { counterTrace } from '../model/fixtures.js';

const TINY = ['--backend', 'cpu', '--layers', '1', '--width', '16', '--heads', '2', '--context', '32', '--batch', '2',
  '--eval-runs', '2', '--eval-records', '4', '--checkpoint-every-tokens', '128'];

async function scrape(url: string): Promise<Exposition> {
  const response = await fetch(`${url}/metrics`);
  assert.equal(response.status, 200);
  return parsePrometheusText(await response.text());
}

describe('train serves /healthz, /readyz and /metrics on the telemetry port', () => {
  let fixture!: KafkaFixture;
  useKafkaFixture((f) => {
    fixture = f;
  });
  let dir: string | undefined;
  let registry: SchemaRegistry | undefined;
  after(async () => {
    await registry?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('is ready once the partitions of traces are assigned; tokens trained, step loss, checkpoints, lag, records in and dead letters move as traces flow; SIGTERM checkpoints and exits 0', { timeout: 600_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'tracestream-train-telemetry-'));
    registry = await openSchemaRegistry({ schemaRegistryUrl: undefined, brokers: fixture.broker.bootstrapServers });
    const codec = createAvroCodec(registry);
    const ids = Array.from({ length: 200 }, (_, i) => `telemetry-${i}`);
    const trainProblems = ids.filter((p) => splitOf(p) === 'train').slice(0, 10);
    const validation = ids.find((p) => splitOf(p) === 'validation')!;
    const send = async (traces: readonly ExecutionTrace[]): Promise<void> => {
      await fixture.producer.send(await Promise.all(traces.map(async (t) => ({ topic: 'traces', partition: 0, key: t.runId, value: await codec.encode('ExecutionTrace', t) }))));
    };
    // Held-out runs only at first: consumed (records in) but nothing to train on yet.
    await send(Array.from({ length: 4 }, (_, k) => counterTrace(2 + k, validation, `v${k}#0`)));

    const train = startCli(['train', '--checkpoint', dir, '--brokers', fixture.broker.bootstrapServers, '--telemetry-port', '0', '--telemetry-host', '127.0.0.1', ...TINY]);
    try {
      const url = await telemetryUrl(train);
      assert.equal((await fetch(`${url}/healthz`)).status, 200, 'alive while the backend and checkpoint load');
      let last = '';
      const ready = await eventually('/readyz answers 200', 240_000, async () => {
        const response = await fetch(`${url}/readyz`);
        last = await response.text();
        return response.status === 200 ? last : undefined;
      }).catch((error: unknown) => {
        throw new Error(`${String(error)}; last answer: ${last}; output:\n${train.output()}`);
      });
      assert.match(ready, /^ready: 4 partition\(s\) of traces assigned/);

      const heldOut = await eventually('the 4 held-out runs are counted in', 60_000, async () => {
        const exposition = await scrape(url);
        return exposition.value('tracestream_records_in_total', { topic: 'traces' }) === 4 ? exposition : undefined;
      });
      assert.equal(heldOut.value('tracestream_model_tokens_trained'), 0, 'held-out runs are not trained on');
      assert.equal(heldOut.value('tracestream_model_checkpoints_total'), 0);
      assert.equal(heldOut.value('tracestream_assigned_partitions'), 4, 'every partition of traces (the mock cluster makes 4)');

      await send(Array.from({ length: 60 }, (_, k) => counterTrace(1 + (k % 4), trainProblems[k % 10]!, `s${k}#0`)));
      await fixture.producer.send([{ topic: 'traces', partition: 0, key: Buffer.from('garbage'), value: Buffer.from('not an Avro event') }]);
      const trained = await eventually('tokens trained, a checkpoint and the dead letter show', 300_000, async () => {
        const exposition = await scrape(url);
        return exposition.value('tracestream_records_in_total', { topic: 'traces' }) === 65
          && exposition.value('tracestream_model_checkpoints_total') >= 1
          && exposition.sum('tracestream_dead_letters_total') === 1 ? exposition : undefined;
      }).catch((error: unknown) => {
        throw new Error(`${String(error)}; output:\n${train.output()}`);
      });
      assert.ok(trained.value('tracestream_model_tokens_trained') >= 128, 'a checkpoint comes after 128 tokens');
      assert.ok(trained.value('tracestream_model_steps') >= 2);
      const loss = trained.value('tracestream_model_step_loss');
      assert.ok(loss > 0 && Number.isFinite(loss), `the latest step's loss: ${loss}`);
      assert.equal(trained.types.get('tracestream_model_train_lag_seconds'), 'gauge');
      assert.ok(trained.samples.some((s) => s.name === 'tracestream_model_train_lag_seconds' && s.value >= 0), 'the lag of the runs trained on is set');
      assert.equal(trained.value('tracestream_in_flight_records'), 0);

      train.child.kill('SIGTERM');
      assert.equal(await train.exited, 0, `train checkpoints and exits 0 on SIGTERM; output:\n${train.output()}`);
    } finally {
      await train.stop();
    }
  });
});
