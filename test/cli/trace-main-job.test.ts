import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import { queryDuckDB } from '../helpers/duckdb.js';

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

  const rows = await queryDuckDB(
    `select run_id, outcome, stdout, steps, compact from read_parquet('${first}/data/*.parquet') order by run_id`,
  ) as { run_id: string; outcome: string; stdout: string; steps: { changes: unknown[] }[]; compact: string }[];
  assert.deepEqual(rows.map((r) => [r.run_id, r.outcome]), [['add.py#0', 'ok'], ['boom.py#0', 'error'], ['old.py#0', 'syntax-error']]);
  assert.equal(rows[0]!.stdout, '42\n');
  assert.deepEqual(rows[1]!.steps[1]!.changes, [{ name: 'x', kind: 'modified', value: '[1, 2, 3]' }]);
  assert.match(rows[1]!.compact, /^src 3\n1 x = \[1, 2\]\n/);
  const manifest = JSON.parse(await readFile(join(first, 'manifest.json'), 'utf8')) as { counts: { outcomes: Record<string, number> }; files: { path: string }[] };
  assert.deepEqual(manifest.counts.outcomes, { error: 1, ok: 1, 'syntax-error': 1 });
  assert.match(await readFile(join(first, 'README.md'), 'utf8'), /^---\n/);

  // Timings are not in the dataset: tracing the same programs again gives the same bytes, file for file.
  for (const file of [...manifest.files.map((f) => f.path), 'README.md', 'manifest.json']) {
    assert.deepEqual(await readFile(join(second, file)), await readFile(join(first, file)), file);
  }
});
