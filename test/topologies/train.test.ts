import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTrainTopology } from '../../topologies/train.js';
import { readMetricsHistory } from '../../src/model/index.js';
import { eventually } from '../helpers/cli-process.js';
import { counterTrace } from '../model/fixtures.js';
import { useTrainFixture, type TrainFixture } from '../model/train-fixture.js';

describe('the train topology while traces arrive', () => {
  let fixture!: TrainFixture;
  useTrainFixture('lag', (f) => {
    fixture = f;
  });

  it('trains on a trace produced while it runs and reports that trace\'s lag from production to training (trainLagMs)', { timeout: 600_000 }, async () => {
    const { dir, registry } = fixture;
    const trainProblems = fixture.trainProblems.slice(0, 6);
    // Only a held-out run before the start: the topic exists, and nothing in it is trained on.
    await fixture.send([counterTrace(3, fixture.validationProblem, 'held-out#0')]);
    const lines: string[] = [];
    const topology = await startTrainTopology({
      client: fixture.kafka.client, registry, embedded: true, backends: ['cpu'], prometheus: false,
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
      await fixture.send(Array.from({ length: 8 }, (_, k) => counterTrace(2 + (k % 3), trainProblems[k % trainProblems.length]!, `live-${k}#0`, producedAtMs)));
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
