import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually, telemetryUrl } from '../helpers/cli-process.js';
import { parsePrometheusText, type Exposition } from '../helpers/prometheus.js';
import { useTrainFixture, type TrainFixture } from '../model/train-fixture.js';

async function scrape(url: string): Promise<Exposition> {
  const response = await fetch(`${url}/metrics`);
  assert.equal(response.status, 200);
  return parsePrometheusText(await response.text());
}

describe('train serves /healthz, /readyz and /metrics on the telemetry port', () => {
  let fixture!: TrainFixture;
  useTrainFixture('telemetry', (f) => {
    fixture = f;
  });

  it('is ready once the partitions of traces are assigned; tokens trained, step loss, checkpoints, training lag, records in and dead letters move as traces flow, and the consumer lag of every partition is reported; SIGTERM checkpoints and exits 0', { timeout: 600_000 }, async () => {
    // Held-out runs only at first: consumed (records in) but nothing to train on yet.
    await fixture.send(fixture.heldOutTraces(4));

    const train = fixture.startTrain(['--telemetry-port', '0', '--telemetry-host', '127.0.0.1']);
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

      await fixture.send(fixture.trainingTraces(60));
      await fixture.kafka.producer.send([{ topic: 'traces', partition: 0, key: Buffer.from('garbage'), value: Buffer.from('not an Avro event') }]);
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
      // The trainer commits no offsets to a group, so librdkafka's own lag stays unknown: the gauge
      // comes from the trainer's position and each partition's end, every 5 s (statistics).
      assert.equal(trained.types.get('tracestream_consumer_lag_records'), 'gauge');
      let lags: [string, number][] = [];
      await eventually('the consumer lag of each of the 4 partitions of traces is 0 (every record consumed)', 30_000, async () => {
        lags = (await scrape(url)).samples.filter((s) => s.name === 'tracestream_consumer_lag_records' && s.labels['topic'] === 'traces')
          .map((s): [string, number] => [s.labels['partition']!, s.value]).sort();
        return JSON.stringify(lags) === JSON.stringify([['0', 0], ['1', 0], ['2', 0], ['3', 0]]) ? true : undefined;
      }).catch((error: unknown) => {
        throw new Error(`${String(error)}; last samples (partition, lag): ${JSON.stringify(lags)}`);
      });

      train.child.kill('SIGTERM');
      assert.equal(await train.exited, 0, `train checkpoints and exits 0 on SIGTERM; output:\n${train.output()}`);
    } finally {
      await train.stop();
    }
  });
});
