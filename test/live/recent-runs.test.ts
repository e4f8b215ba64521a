import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecentRuns, type RunSummary } from '../../src/live/index.js';
import { diffEvent, traceEvent } from './support.js';

describe('RecentRuns (what the page opens)', () => {
  it('shows a run while its diffs stream in, then completes it with its trace', () => {
    const runs = new RecentRuns({ maxRuns: 10, maxStepsPerRun: 100 });
    const changes: RunSummary[] = [];
    runs.onChange((summary) => changes.push(summary));
    runs.addDiff(diffEvent('s#0', 0));
    runs.addDiff(diffEvent('s#0', 1));
    runs.addDiff(diffEvent('s#0', 1)); // redelivered: not a third step
    const streaming = runs.get('s#0')!;
    assert.equal(streaming.complete, false);
    assert.equal(streaming.outcome, null);
    assert.equal(streaming.problemId, 'p', 'a diff names its run\'s problem');
    assert.equal(streaming.source, null, 'the whole source comes with the trace');
    assert.deepEqual(streaming.steps.map((s) => s.index), [0, 1]);
    assert.deepEqual(streaming.sourceLines, [[1, 'x = 0'], [2, 'x = 1']]);
    assert.deepEqual(runs.get('s#0', 1)!.steps.map((s) => s.index), [1], 'only the steps from fromStep on');

    runs.addTrace(traceEvent({ runId: 's#0', problemId: 'p7', stdout: 'out\n' }));
    const done = runs.get('s#0')!;
    assert.equal(done.complete, true);
    assert.equal(done.outcome, 'ok');
    assert.equal(done.problemId, 'p7');
    assert.equal(done.stdout, 'out\n');
    assert.deepEqual(done.sourceLines, [[1, 'x = 0'], [2, 'x = 1']], 'source lines the diffs showed stay');
    assert.equal(done.source, 'x = 1\nprint(x)\n', 'the trace brings the whole source, lines that never ran included');
    assert.equal(changes.at(-1)!.complete, true);
  });

  it('keeps only the most recent maxRuns runs and maxStepsPerRun steps each', () => {
    const runs = new RecentRuns({ maxRuns: 3, maxStepsPerRun: 1 });
    for (let i = 0; i < 5; i++) runs.addTrace(traceEvent({ runId: `r${i}#0` }));
    assert.equal(runs.size, 3);
    assert.deepEqual(runs.list().map((r) => r.runId), ['r4#0', 'r3#0', 'r2#0'], 'newest first');
    assert.equal(runs.get('r0#0'), undefined);
    assert.equal(runs.get('r4#0')!.steps.length, 1);
    assert.equal(runs.get('r4#0')!.stepCount, 2, 'the count still says how many the run recorded');
  });
});
