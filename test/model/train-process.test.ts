import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { firstValueFrom, timeout } from 'rxjs';
import { kafkaSource } from '../../src/kafka/index.js';
import { loadCheckpoint } from '../../src/model/index.js';
import { TINY_TOKENS_PER_STEP, useTrainFixture, type TrainFixture } from './train-fixture.js';

describe('tracestream train as a process', { timeout: 600_000 }, () => {
  let fixture!: TrainFixture;
  useTrainFixture('counting', (f) => {
    fixture = f;
  });

  test('SIGKILLed after a checkpoint, it resumes at the offsets saved there, trains --max-tokens more, exits 0, and its ModelMetrics decode', async () => {
    const { dir } = fixture;
    // Held-out runs first, all in one partition, so the evaluation set is filled before the first checkpoint.
    await fixture.send([...fixture.heldOutTraces(4), ...fixture.trainingTraces(60)]);

    const first = fixture.startTrain(['--max-tokens', '1000000'], { brokersFrom: 'env' });
    const deadline = Date.now() + 300_000;
    for (;;) {
      try {
        await access(join(dir, 'LATEST'));
        break;
      } catch {
        assert.ok(Date.now() < deadline && first.child.exitCode === null, `the first trainer wrote a checkpoint; output:\n${first.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    first.child.kill('SIGKILL');
    assert.equal(await first.exited, 'SIGKILL', first.output());
    const saved = await loadCheckpoint(dir);
    assert.ok(saved !== null);
    assert.ok(saved.meta.step > 0);

    const second = fixture.startTrain(['--max-tokens', String(2 * TINY_TOKENS_PER_STEP)], { brokersFrom: 'env' });
    const exit = await Promise.race([second.exited, delay(300_000, 'still running after 300 s', { ref: false })]);
    assert.equal(exit, 0, second.output());
    assert.ok(second.output().includes(`resumed from ${saved.path} at offsets ${JSON.stringify(saved.meta.offsets)}`), second.output());
    const final = await loadCheckpoint(dir);
    assert.equal(final?.meta.optimizer.step, saved.meta.optimizer.step + 2);
    assert.equal(final?.meta.tokensTrained, saved.meta.tokensTrained + 2 * TINY_TOKENS_PER_STEP);

    const source = kafkaSource({ client: fixture.kafka.client, groupId: 'metrics-reader', topics: ['model-metrics'], assignAllPartitions: true });
    const record = await firstValueFrom(source.records.pipe(timeout(60_000)));
    record.ack();
    await source.close();
    const metrics = await fixture.codec.decode(record.value!, 'ModelMetrics');
    assert.equal(metrics.modelId, dir);
    assert.equal(metrics.backend, 'cpu');
    assert.equal(metrics.evalRuns, 2);
    assert.ok(metrics.model.records > 0);
  });
});
