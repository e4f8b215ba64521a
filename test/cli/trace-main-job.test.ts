import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { execa } from 'execa';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tracestream-main-job-'));
  await writeFile(join(dir, 'add.py'), 'a, b = map(int, input().split())\nprint(a + b)\n');
  await writeFile(join(dir, 'add.in'), '2 40\n');
  await writeFile(join(dir, 'boom.py'), 'x = [1, 2]\nx.append(3)\nraise KeyError("k")\n');
  await writeFile(join(dir, 'old.py'), 'print "python 2"\n');
});

after(() => rm(dir, { recursive: true, force: true }));

async function traceInto(out: string): Promise<void> {
  // KAFKA_BROKERS emptied: the job must start its own embedded broker.
  const result = await execa(process.execPath, [MAIN, 'trace', dir, '--out', out], { env: { KAFKA_BROKERS: '' }, reject: false, all: true, timeout: 120_000 });
  assert.equal(result.exitCode, 0, result.all);
  assert.match(result.stdout, /wrote 3 traces to /);
}

test('the main job traces a folder of programs on the embedded broker and writes the same dataset twice', { timeout: 300_000 }, async () => {
  const first = join(dir, 'out-1');
  const second = join(dir, 'out-2');
  await traceInto(first);
  await traceInto(second);

  const lines = (await readFile(join(first, 'traces.jsonl'), 'utf8')).trimEnd().split('\n');
  const traces = lines.map((line) => JSON.parse(line) as { runId: string; outcome: string; stdout: string; steps: { changes: unknown[] }[] });
  assert.deepEqual(traces.map((t) => [t.runId, t.outcome]), [['add.py#0', 'ok'], ['boom.py#0', 'error'], ['old.py#0', 'syntax_error']]);
  assert.equal(traces[0]!.stdout, '42\n');
  assert.deepEqual(traces[1]!.steps[1]!.changes, [{ name: 'x', kind: 'modified', value: '[1, 2, 3]' }]);

  const compact = await readFile(join(first, 'compact.txt'), 'utf8');
  for (const runId of ['add.py#0', 'boom.py#0', 'old.py#0']) assert.match(compact, new RegExp(`^### ${runId.replace('.', '\\.')}$`, 'm'));
  assert.deepEqual(JSON.parse(await readFile(join(first, 'summary.json'), 'utf8')), { runs: 3, outcomes: { ok: 1, error: 1, syntax_error: 1 } });
  const timings = (await readFile(join(first, 'timings.jsonl'), 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as { runId: string });
  assert.deepEqual(timings.map((t) => t.runId), ['add.py#0', 'boom.py#0', 'old.py#0']);

  assert.equal(await readFile(join(second, 'traces.jsonl'), 'utf8'), await readFile(join(first, 'traces.jsonl'), 'utf8'), 'same programs, same bytes');
  assert.equal(await readFile(join(second, 'compact.txt'), 'utf8'), compact);
});
