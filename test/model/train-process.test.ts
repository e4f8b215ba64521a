import assert from 'node:assert/strict';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { firstValueFrom, timeout } from 'rxjs';
import { createAvroCodec, openSchemaRegistry, type SchemaRegistry } from '../../src/avro/index.js';
import { splitOf } from '../../src/dataset/splits.js';
import { kafkaSource } from '../../src/kafka/index.js';
import { loadCheckpoint } from '../../src/model/index.js';
import { useKafkaFixture, type KafkaFixture } from '../kafka/support.js';
import { counterTrace } from './fixtures.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const TINY = ['--backend', 'cpu', '--layers', '1', '--width', '16', '--heads', '2', '--context', '32', '--batch', '2',
  '--eval-runs', '2', '--eval-records', '4', '--checkpoint-every-tokens', '128'];
const TOKENS_PER_STEP = 2 * 32;

describe('tracestream train as a process', { timeout: 600_000 }, () => {
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

  test('SIGKILLed after a checkpoint, it resumes at the offsets saved there, trains --max-tokens more, exits 0, and its ModelMetrics decode', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tracestream-train-'));
    registry = await openSchemaRegistry({ schemaRegistryUrl: undefined, brokers: fixture.broker.bootstrapServers });
    const codec = createAvroCodec(registry);
    const ids = Array.from({ length: 200 }, (_, i) => `counting-${i}`);
    const trainProblems = ids.filter((p) => splitOf(p) === 'train').slice(0, 10);
    const validation = ids.find((p) => splitOf(p) === 'validation')!;
    // Held-out runs first, all in one partition, so the evaluation set is filled before the first checkpoint.
    const traces = [
      ...Array.from({ length: 4 }, (_, k) => counterTrace(2 + k, validation, `v${k}#0`)),
      ...Array.from({ length: 60 }, (_, k) => counterTrace(1 + (k % 4), trainProblems[k % 10]!, `s${k}#0`)),
    ];
    await fixture.producer.send(await Promise.all(traces.map(async (t) => ({ topic: 'traces', partition: 0, key: t.runId, value: await codec.encode('ExecutionTrace', t) }))));
    const env = { KAFKA_BROKERS: fixture.broker.bootstrapServers };

    const first = execa(process.execPath, [MAIN, 'train', '--checkpoint', dir, '--max-tokens', '1000000', ...TINY], { env, reject: false, all: true });
    const deadline = Date.now() + 300_000;
    for (;;) {
      try {
        await access(join(dir, 'LATEST'));
        break;
      } catch {
        assert.ok(Date.now() < deadline && first.exitCode === null, 'the first trainer wrote a checkpoint');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    first.kill('SIGKILL');
    const killed = await first;
    assert.equal(killed.signal, 'SIGKILL', killed.all);
    const saved = await loadCheckpoint(dir);
    assert.ok(saved !== null);
    assert.ok(saved.meta.step > 0);

    const second = await execa(process.execPath, [MAIN, 'train', '--checkpoint', dir, '--max-tokens', String(2 * TOKENS_PER_STEP), ...TINY], { env, reject: false, all: true, timeout: 300_000 });
    assert.equal(second.exitCode, 0, second.all);
    assert.ok(second.all.includes(`resumed from ${saved.path} at offsets ${JSON.stringify(saved.meta.offsets)}`), second.all);
    const final = await loadCheckpoint(dir);
    assert.equal(final?.meta.optimizer.step, saved.meta.optimizer.step + 2);
    assert.equal(final?.meta.tokensTrained, saved.meta.tokensTrained + 2 * TOKENS_PER_STEP);

    const source = kafkaSource({ client: fixture.client, groupId: 'metrics-reader', topics: ['model-metrics'], assignAllPartitions: true });
    const record = await firstValueFrom(source.records.pipe(timeout(60_000)));
    record.ack();
    await source.close();
    const metrics = await codec.decode(record.value!, 'ModelMetrics');
    assert.equal(metrics.modelId, dir);
    assert.equal(metrics.backend, 'cpu');
    assert.equal(metrics.evalRuns, 2);
    assert.ok(metrics.model.records > 0);
  });
});
