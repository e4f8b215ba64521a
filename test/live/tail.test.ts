import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { ExecutionTrace, LineDiff } from '../../src/avro/index.js';
import { uniqueName } from '../helpers/broker.js';
import { diffEvent, produceTraces, startLiveFixture, traceEvent, type LiveFixture } from './support.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Tail {
  child: ChildProcess;
  stdout(): string;
  /** Resolves once the consumer has its partitions (its `tailing` line on stderr). */
  ready: Promise<void>;
  stop(): Promise<number | null>;
}

describe('tracestream tail', () => {
  let fixture: LiveFixture;
  const tails = new Set<Tail>();
  before(async () => {
    fixture = await startLiveFixture();
  });
  after(async () => {
    for (const tail of tails) await tail.stop();
    assert.equal(await fixture.close(), 0, 'the test broker exits 0');
  });

  function tail(args: readonly string[], env: NodeJS.ProcessEnv = {}): Tail {
    const child = spawn(process.execPath, [MAIN, 'tail', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KAFKA_BROKERS: fixture.broker.bootstrapServers, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const ready = new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('tracestream: tailing')) resolve();
      });
      void exited.then((code) => reject(new Error(`tail exited with ${code} before it was ready: ${stderr}`)));
    });
    const handle: Tail = {
      child, ready, stdout: () => stdout,
      async stop() {
        tails.delete(handle);
        if (child.exitCode === null) child.kill('SIGTERM');
        return exited;
      },
    };
    tails.add(handle);
    return handle;
  }

  async function until(check: () => boolean, what: () => string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out; got: ${what()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('--json prints one matching event a line, of those produced after it started, and exits 0 on SIGTERM', async () => {
    const topic = uniqueName('traces');
    await produceTraces(fixture, topic, [traceEvent({ runId: 'before#0', problemId: 'wanted' })]);
    const reader = tail(['traces', '--topic', topic, '--json', '--problem', 'wanted', '--outcome', 'step-limit']);
    await reader.ready;
    await produceTraces(fixture, topic, [
      traceEvent({ runId: 'a#0', problemId: 'wanted', outcome: 'step_limit' }),
      traceEvent({ runId: 'b#0', problemId: 'wanted', outcome: 'ok' }),
      traceEvent({ runId: 'c#0', problemId: 'other', outcome: 'step_limit' }),
      traceEvent({ runId: 'd#0', problemId: 'wanted', outcome: 'step_limit' }),
    ]);
    const lines = (): string[] => reader.stdout().split('\n').filter((line) => line !== '');
    await until(() => lines().length >= 2, () => reader.stdout());
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(lines().map((line) => (JSON.parse(line) as ExecutionTrace).runId).sort(), ['a#0', 'd#0']);
    assert.equal(await reader.stop(), 0);
  });

  it('prints runs snoop-style, without colour when the output is not a terminal; --from beginning replays', async () => {
    const topic = uniqueName('traces');
    await produceTraces(fixture, topic, [traceEvent({ runId: 'shown#0', problemId: 'p1', stdout: 'hello <b>\n' })]);
    const reader = tail(['traces', '--topic', topic, '--from', 'beginning']);
    await until(() => reader.stdout().includes('=== ok'), () => reader.stdout());
    const text = reader.stdout();
    assert.match(text, /── shown#0 · problem p1 · ok · 2 steps · 5 ms ──/);
    assert.match(text, /line 1\n\.\.\.\.\.\. x = 1\n/);
    assert.match(text, /out\| hello <b>\n/);
    assert.doesNotMatch(text, /\x1b\[/, 'no escape sequences in a pipe');
  });

  it('tail diffs --problem --outcome prints the diffs of matching runs only; a diff from before those fields (null) matches neither', async () => {
    const topic = uniqueName('diffs');
    await fixture.producer.send([{ topic, key: 'x', value: await fixture.codec.encode('LineDiff', diffEvent('x#0', 0)) }]);
    const reader = tail(['diffs', '--topic', topic, '--json', '--problem', 'wanted', '--outcome', 'timeout']);
    await reader.ready;
    const older = { ...diffEvent('old#0', 0), problemId: null, outcome: null };
    const diffs = [
      diffEvent('a#0', 0, { problemId: 'wanted', outcome: 'timeout' }),
      diffEvent('b#0', 0, { problemId: 'wanted', outcome: 'ok' }),
      diffEvent('c#0', 0, { problemId: 'other', outcome: 'timeout' }),
      older,
      diffEvent('a#0', 1, { problemId: 'wanted', outcome: 'timeout' }),
    ];
    await fixture.producer.send(await Promise.all(diffs.map(async (diff) => ({ topic, key: diff.runId, value: await fixture.codec.encode('LineDiff', diff) }))));
    const lines = (): string[] => reader.stdout().split('\n').filter((line) => line !== '');
    await until(() => lines().length >= 2, () => reader.stdout());
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(lines().map((line) => {
      const diff = JSON.parse(line) as LineDiff;
      return `${diff.runId}/${diff.stepIndex} ${diff.problemId} ${diff.outcome}`;
    }), ['a#0/0 wanted timeout', 'a#0/1 wanted timeout']);
    assert.equal(await reader.stop(), 0);
  });

  it('tail diffs shows each step with its source line as it streams in', async () => {
    const topic = uniqueName('diffs');
    await fixture.producer.send([{ topic, key: 'x', value: await fixture.codec.encode('LineDiff', diffEvent('x#0', 0)) }]);
    const reader = tail(['diffs', '--topic', topic, '--solution', 's9']);
    await reader.ready;
    const records = await Promise.all([diffEvent('s8#0', 0), diffEvent('s9#0', 0), diffEvent('s9#0', 1)].map(async (diff) => ({
      topic, key: diff.runId, value: await fixture.codec.encode('LineDiff', diff),
    })));
    await fixture.producer.send(records);
    await until(() => reader.stdout().includes('x = 1\n...... x = 1'), () => reader.stdout());
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(reader.stdout(), [
      '── s9#0 · solution s9 · 3 steps ──',
      '   1 | x = 0',
      '...... x = 0',
      '   2 | x = 1',
      '...... x = 1',
      '',
    ].join('\n'));
  });
});
