import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startTrainTopology } from '../../topologies/train.js';
import { createAvroCodec, openSchemaRegistry, type ExecutionTrace, type SchemaRegistry } from '../../src/avro/index.js';
import { splitOf } from '../../src/dataset/splits.js';
import { readMetricsHistory } from '../../src/model/index.js';
import { eventually } from '../helpers/cli-process.js';
import { useKafkaFixture, type KafkaFixture } from '../kafka/support.js';
import { counterTrace } from '../model/fixtures.js';

describe('the train topology while traces arrive', () => {
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

  it('trains on a trace produced while it runs and reports that trace\'s lag from production to training (trainLagMs)', { timeout: 600_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'tracestream-train-lag-'));
    registry = await openSchemaRegistry({ schemaRegistryUrl: undefined, brokers: fixture.broker.bootstrapServers });
    const codec = createAvroCodec(registry);
    const ids = Array.from({ length: 200 }, (_, i) => `lag-${i}`);
    const trainProblems = ids.filter((p) => splitOf(p) === 'train').slice(0, 6);
    const validation = ids.find((p) => splitOf(p) === 'validation')!;
    const send = async (traces: readonly ExecutionTrace[]): Promise<void> => {
      await fixture.producer.send(await Promise.all(traces.map(async (t) => ({ topic: 'traces', partition: 0, key: t.runId, value: await codec.encode('ExecutionTrace', t) }))));
    };
    // Only a held-out run before the start: the topic exists, and nothing in it is trained on.
    await send([counterTrace(3, validation, 'held-out#0')]);
    const lines: string[] = [];
    const topology = await startTrainTopology({
      client: fixture.client, registry, embedded: true, backends: ['cpu'], prometheus: false,
      log: (line) => lines.push(line),
      trainer: {
        checkpointDir: dir,
        model: { contextTokens: 32, layers: 1, width: 16, heads: 2 },
        batchRows: 2,
        evaluation: { recordsPerRun: 2, maxRecords: 4, maxRecordTokens: 24, lossTokensPerRun: 64, batchRows: 4 },
      },
    });
    try {
      await eventually('the held-out run is consumed', 120_000, async () => (topology.trainer.startOffsets()['traces']?.['0'] === 1 ? true : undefined));
      assert.equal(topology.trainer.tokensTrained, 0);
      assert.equal(topology.trainer.lastLagMs, null, 'no lag before anything is trained on');

      const producedAtMs = Date.now();
      await send(Array.from({ length: 8 }, (_, k) => counterTrace(2 + (k % 3), trainProblems[k % trainProblems.length]!, `live-${k}#0`, producedAtMs)));
      const lagMs = await eventually('a run produced after the start is trained on', 300_000, async () => topology.trainer.lastLagMs ?? undefined);
      assert.ok(Number.isFinite(lagMs) && lagMs >= 0, `lag ${lagMs} ms`);
      assert.ok(topology.trainer.tokensTrained > 0);
      await topology.close();
      const history = await readMetricsHistory(dir);
      const reported = history.at(-1)?.trainLagMs;
      assert.ok(typeof reported === 'number' && Number.isFinite(reported) && reported >= lagMs, `the final ModelMetrics reports the lag (${reported} ms)`);
      assert.ok(lines.some((line) => new RegExp(`lag ${reported} ms`).test(line)), `the checkpoint log line says the lag:\n${lines.join('\n')}`);
    } finally {
      await topology.close();
    }
  });
});
