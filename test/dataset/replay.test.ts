import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { parse as parseYaml } from 'yaml';
import { createAvroCodec, openSchemaRegistry, outcomeFromAvro, type AvroCodec, type ExecutionTrace, type SchemaRegistry } from '../../src/avro/index.js';
import { endOffsetsOf, followTopic, replayTopic, splitOf, type DatasetManifest } from '../../src/dataset/index.js';
import type { KafkaClientConfig, KafkaProducer } from '../../src/kafka/index.js';
import { executionOf } from '../../src/pipeline/index.js';
import { renderCompact } from '../../src/render/index.js';
import { uniqueName } from '../helpers/broker.js';
import { queryDuckDB as query } from '../helpers/duckdb.js';
import { useKafkaFixture } from '../kafka/support.js';
import { syntheticTrace } from './traces.js';

const RUNS = 60;
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Every file under `dir` with the SHA-256 of its bytes, by relative path. */
export async function filesOf(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[relative(dir, path)] = createHash('sha256').update(await readFile(path)).digest('hex');
  }
  return out;
}

/** DuckDB hands a JSON column to getRowObjectsJson as the JSON text, itself JSON-encoded. */
function parseJsonColumn(value: unknown): unknown {
  let parsed = value;
  while (typeof parsed === 'string') parsed = JSON.parse(parsed);
  return parsed;
}

describe('replayTopic', { timeout: 300_000 }, () => {
  let client: KafkaClientConfig;
  let producer: KafkaProducer;
  let registry: SchemaRegistry;
  let codec: AvroCodec;
  let work: string;
  const traces = Array.from({ length: RUNS }, (_, i) => syntheticTrace(i));
  let spread: string; // keyed by run id over 4 partitions

  useKafkaFixture((fixture) => ({ client, producer } = fixture));

  before(async () => {
    registry = await openSchemaRegistry({ brokers: client.bootstrapServers });
    codec = createAvroCodec(registry);
    work = await mkdtemp(join(tmpdir(), 'tracestream-replay-'));
    spread = uniqueName('traces-spread');
    await producer.send(await Promise.all(traces.map(async (t) => ({ topic: spread, key: t.runId, value: await codec.encode('ExecutionTrace', t) }))));
  });

  after(async () => {
    await registry?.close();
    await rm(work, { recursive: true, force: true });
  });

  const replay = (topic: string | string[], name: string, extra: Partial<Parameters<typeof replayTopic>[0]> = {}) =>
    replayTopic({ client, codec, topics: typeof topic === 'string' ? [topic] : topic, outDir: join(work, name), ...extra });
  const dataFiles = (files: Record<string, string>) => Object.fromEntries(Object.entries(files).filter(([path]) => path.startsWith('data/')));

  it('two replays of the same topic give byte-identical files, each listed with its SHA-256 in the manifest', async () => {
    const first = await replay(spread, 'twice-1', { formats: ['jsonl', 'compact'] });
    await replay(spread, 'twice-2', { formats: ['jsonl', 'compact'] });
    const files = await filesOf(join(work, 'twice-1'));
    assert.deepEqual(await filesOf(join(work, 'twice-2')), files);
    assert.ok(Object.keys(files).every((path) => !path.startsWith('.replay')), 'no work files are left behind');
    for (const file of first.manifest.files) assert.equal(files[file.path], file.sha256, file.path);
    const names = first.manifest.files.map((f) => f.path);
    assert.ok(names.includes('data/train-00000-of-00001.parquet'), names.join(', '));
    assert.ok(names.includes('data/train-00000-of-00001.jsonl.zst') && names.includes('data/train-00000-of-00001.compact.txt.zst'));
    assert.equal(first.manifest.records.written, RUNS);
    assert.deepEqual(first.manifest.topics.map((t) => t.topic), [spread]);
    assert.deepEqual(first.manifest.topics[0]!.partitions.map((p) => p.end - p.start).reduce((a, b) => a + b), RUNS);
  });

  it('DuckDB reads the Parquet shards back with the same rows and values as the Avro events', async () => {
    const dir = join(work, 'twice-1');
    const rows = await query(`select * from read_parquet('${dir}/data/*.parquet') order by run_id`);
    const expected = [...traces].sort((a, b) => (a.runId < b.runId ? -1 : 1));
    assert.equal(rows.length, expected.length);
    for (const [i, row] of rows.entries()) {
      const t = expected[i]!;
      assert.deepEqual({
        run_id: row['run_id'], solution_id: row['solution_id'], problem_id: row['problem_id'], input_index: row['input_index'],
        source: row['source'], stdin: row['stdin'], outcome: row['outcome'], stdout: row['stdout'], exit_code: row['exit_code'],
        signal: row['signal'], output_file: row['output_file'], exception: row['exception'], step_count: Number(row['step_count']),
        truncated: row['truncated'], tracer_version: row['tracer_version'], python_version: row['python_version'],
        origin: parseJsonColumn(row['origin']),
      }, {
        run_id: t.runId, solution_id: t.solutionId, problem_id: t.problemId, input_index: t.inputIndex, source: t.source, stdin: t.stdin,
        outcome: outcomeFromAvro(t.outcome), stdout: t.stdout, exit_code: t.exitCode, signal: t.signal, output_file: t.outputFile,
        exception: t.exception, step_count: t.stepCount, truncated: t.traceTruncated, tracer_version: t.tracerVersion,
        python_version: t.pythonVersion, origin: t.origin,
      });
      const steps = (row['steps'] as Record<string, unknown>[]).map((s) => ({ ...s, index: Number(s['index']) }));
      assert.deepEqual(steps, t.steps.map((s) => ({ ...s })), `steps of ${t.runId}`);
      assert.equal(row['compact'], renderCompact(executionOf(t), { source: t.source ?? '' }), `compact of ${t.runId}`);
    }
  });

  it('row groups carry min/max statistics for ids, outcomes and counts, none for free text (source, stdin, stdout, steps, compact)', async () => {
    const dir = join(work, 'twice-1');
    const chunks = await query(`select path_in_schema, stats_min_value, stats_max_value from parquet_metadata('${dir}/data/train-*.parquet')`);
    const bounded = (column: string) => {
      const mine = chunks.filter((c) => String(c['path_in_schema']).split(', ')[0] === column);
      assert.ok(mine.length > 0, `${column} is in the footer`);
      return mine.every((c) => c['stats_min_value'] !== null && c['stats_max_value'] !== null);
    };
    for (const column of ['run_id', 'problem_id', 'outcome', 'step_count', 'tracer_version']) assert.ok(bounded(column), `${column} has min/max`);
    for (const column of ['source', 'stdin', 'stdout', 'steps', 'compact']) {
      const withStats = chunks.filter((c) => String(c['path_in_schema']).split(', ')[0] === column && (c['stats_min_value'] !== null || c['stats_max_value'] !== null));
      assert.deepEqual(withStats, [], `${column} has no min/max`);
    }
  });

  it('a row group closes at its step budget as well as its byte budget, with the same rows', async () => {
    const rowGroups = async (dir: string) => (await query(`select file_name, row_group_id, any_value(row_group_num_rows) as num_rows from parquet_metadata('${dir}/data/train-*.parquet') group by file_name, row_group_id order by file_name, row_group_id`))
      .map((g) => Number(g['num_rows']));
    const byBytes = await rowGroups(join(work, 'twice-1'));
    // Every trace here has at least one step, so a budget of one step closes a group after each trace.
    await replay(spread, 'by-steps', { rowGroupSteps: 1 });
    const bySteps = await rowGroups(join(work, 'by-steps'));
    assert.ok(byBytes.some((rows) => rows > 1), `by bytes, a row group holds several runs (${byBytes.join(', ')})`);
    assert.ok(bySteps.every((rows) => rows === 1), `by steps, row groups of ${bySteps.join(', ')} runs`);
    assert.equal(bySteps.reduce((a, b) => a + b, 0), byBytes.reduce((a, b) => a + b, 0));
    const rowsOf = async (dir: string) => query(`select run_id, step_count from read_parquet('${dir}/data/train-*.parquet') order by run_id`);
    assert.deepEqual(await rowsOf(join(work, 'by-steps')), await rowsOf(join(work, 'twice-1')));
  });

  it('the dataset card is YAML front matter whose configs name every shard and whose features and split sizes match what DuckDB reads', async () => {
    const dir = join(work, 'twice-1');
    const card = await readFile(join(dir, 'README.md'), 'utf8');
    const front = /^---\n([\s\S]*?)\n---\n/.exec(card);
    assert.ok(front, 'the card starts with YAML front matter');
    const meta = parseYaml(front[1]!) as {
      configs: { config_name: string; data_files: { split: string; path: string }[] }[];
      dataset_info: { features: { name: string; dtype?: string; list?: unknown; struct?: unknown }[]; splits: { name: string; num_examples: number }[] };
    };
    const files = (await readdir(join(dir, 'data'))).map((name) => `data/${name}`);
    const globbed = (pattern: string) => files.filter((file) => new RegExp(`^${pattern.replaceAll('.', '\\.').replaceAll('*', '[^/]*')}$`).test(file));
    const named = new Set<string>();
    for (const config of meta.configs) {
      for (const { split, path } of config.data_files) {
        const matched = globbed(path);
        assert.ok(matched.length > 0, `${config.config_name}/${split}: ${path} matches no file`);
        assert.ok(matched.every((file) => file.startsWith(`data/${split}-`)), `${path} matches another split's files`);
        matched.forEach((file) => named.add(file));
      }
    }
    assert.deepEqual(files.filter((file) => !file.endsWith('.compact.txt.zst') && !named.has(file)), [], 'every table shard belongs to a config');

    const columns = await query(`describe select * from read_parquet('${dir}/data/*.parquet')`);
    assert.deepEqual(meta.dataset_info.features.map((f) => f.name), columns.map((c) => c['column_name']));
    // A JSON column (origin) is Parquet's JSON logical type over strings: a string to `datasets`.
    const scalar: Record<string, string[]> = { string: ['VARCHAR', 'JSON'], int64: ['BIGINT'], int32: ['INTEGER'], bool: ['BOOLEAN'], float64: ['DOUBLE'] };
    for (const [i, feature] of meta.dataset_info.features.entries()) {
      const type = String(columns[i]!['column_type']);
      if (feature.dtype !== undefined) assert.ok(scalar[feature.dtype]?.includes(type), `${feature.name}: ${feature.dtype} in the card, ${type} in the file`);
      else if (feature.list !== undefined) assert.match(type, /\[\]$/, `${feature.name} is a list`);
      else assert.match(type, /^STRUCT\(/, `${feature.name} is a struct`);
    }
    for (const split of meta.dataset_info.splits) {
      const [count] = await query(`select count(*) as n from read_parquet('${dir}/data/${split.name}-*.parquet')`);
      assert.equal(Number(count!['n']), split.num_examples, `${split.name}: num_examples`);
    }
  });

  it('the same dataset comes from one partition, from four, and from a topic with duplicated records', async () => {
    const single = uniqueName('traces-single');
    const duplicated = uniqueName('traces-dup');
    const encoded = await Promise.all(traces.map(async (t) => ({ key: t.runId, value: await codec.encode('ExecutionTrace', t) })));
    await producer.send(encoded.map((r) => ({ topic: single, partition: 0, ...r })));
    // At-least-once: an older run of some programs that was killed, then the real traces, then redeliveries.
    const stale = await Promise.all(traces.slice(0, 10).map(async (t) => ({
      key: t.runId, value: await codec.encode('ExecutionTrace', { ...t, outcome: 'killed', steps: [], stepCount: 0, producedAtMs: t.producedAtMs - 1000 }),
    })));
    await producer.send([...stale, ...encoded, ...encoded.slice(20, 40).reverse()].map((r) => ({ topic: duplicated, ...r })));
    await replay(single, 'single');
    const dup = await replay(duplicated, 'duplicated');
    const reference = await filesOf(join(work, 'twice-1'));
    const parquetOnly = (files: Record<string, string>) => Object.fromEntries(Object.entries(files).filter(([p]) => p.endsWith('.parquet')));
    assert.deepEqual(parquetOnly(await filesOf(join(work, 'single'))), parquetOnly(reference));
    assert.deepEqual(parquetOnly(await filesOf(join(work, 'duplicated'))), parquetOnly(reference));
    assert.equal(dup.manifest.records.duplicates, 30);
    assert.equal(dup.manifest.counts.outcomes['killed'], undefined, 'the newer trace of each run wins');
  });

  it('the same records spread over two topics give the same data files as one topic, and the manifest and card name both topics', async () => {
    const [a, b] = [uniqueName('traces-two-a'), uniqueName('traces-two-b')];
    const encoded = await Promise.all(traces.map(async (t) => ({ key: t.runId, value: await codec.encode('ExecutionTrace', t) })));
    // An older trace of some runs in one topic and their newer one in the other: one row per run id over both topics.
    const stale = await Promise.all(traces.slice(0, 6).map(async (t) => ({
      topic: b, key: t.runId, value: await codec.encode('ExecutionTrace', { ...t, outcome: 'killed', steps: [], stepCount: 0, producedAtMs: t.producedAtMs - 1000 }),
    })));
    await producer.send([...stale, ...encoded.map((r, i) => ({ topic: i % 3 === 0 ? a : b, ...r })), ...encoded.slice(40, 50).map((r) => ({ topic: a, ...r }))]);
    const { manifest } = await replay([b, a], 'two-topics', { formats: ['jsonl', 'compact'] });
    assert.deepEqual(dataFiles(await filesOf(join(work, 'two-topics'))), dataFiles(await filesOf(join(work, 'twice-1'))));
    assert.deepEqual(manifest.topics.map((t) => t.topic), [a, b].sort(), 'topics by name, whatever order they were given in');
    const held = (topic: string) => manifest.topics.find((t) => t.topic === topic)!.partitions.reduce((n, p) => n + p.end - p.start, 0);
    assert.deepEqual([held(a), held(b)], [20 + 10, 40 + 6]);
    assert.deepEqual(manifest.records, { read: 76, duplicates: 16, filteredOut: 0, skipped: 0, written: RUNS });
    const card = await readFile(join(work, 'two-topics', 'README.md'), 'utf8');
    assert.ok(card.includes(`\`${a}\``) && card.includes(`\`${b}\``), 'the card names both topics');
  });

  it('splits never share a problem, and each problem is in the split its hash names', async () => {
    const dir = join(work, 'twice-1');
    const rows = await query(`select problem_id, regexp_extract(filename, '(train|validation|test)-', 1) as split from read_parquet('${dir}/data/*.parquet', filename = true) group by all`);
    const splitsOfProblem = new Map<string, Set<string>>();
    for (const row of rows) splitsOfProblem.set(row['problem_id'] as string, (splitsOfProblem.get(row['problem_id'] as string) ?? new Set()).add(row['split'] as string));
    assert.equal(splitsOfProblem.size, 12);
    for (const [problem, splits] of splitsOfProblem) assert.deepEqual([...splits], [splitOf(problem)], problem);
    // Ratios are options: all of it in test.
    const { manifest } = await replay(spread, 'all-test', { splitRatios: { train: 0, validation: 0, test: 1 } });
    assert.deepEqual(manifest.files.map((f) => f.path), ['data/test-00000-of-00001.parquet']);
  });

  it('filters keep only the runs asked for: outcome, problem, tracer version, truncated, max steps', async () => {
    const cases: [Parameters<typeof replayTopic>[0]['filter'], (t: ExecutionTrace) => boolean][] = [
      [{ outcomes: ['ok', 'step-limit'] }, (t) => t.outcome === 'ok' || t.outcome === 'step_limit'],
      [{ problems: ['p1', 'p2'] }, (t) => t.problemId === 'p1' || t.problemId === 'p2'],
      [{ tracerVersions: ['0.9.0'] }, (t) => t.tracerVersion === '0.9.0'],
      [{ truncated: true }, (t) => t.traceTruncated],
      [{ maxSteps: 3, truncated: false }, (t) => t.stepCount <= 3 && !t.traceTruncated],
    ];
    for (const [i, [filter, keep]] of cases.entries()) {
      const { manifest } = await replay(spread, `filter-${i}`, { filter });
      const rows = await query(`select run_id from read_parquet('${join(work, `filter-${i}`)}/data/*.parquet') order by run_id`);
      const want = traces.filter(keep).map((t) => t.runId).sort();
      assert.ok(want.length > 0 && want.length < RUNS, `case ${i} keeps some runs`);
      assert.deepEqual(rows.map((r) => r['run_id']), want, JSON.stringify(filter));
      assert.equal(manifest.records.filteredOut, RUNS - want.length);
    }
  });

  it('a replay stopped mid-read, then started again, reads only what its spill files lack and ends with the same files', async () => {
    const outDir = join(work, 'resumed-read');
    const options = { client, codec, topics: [spread], outDir, formats: ['jsonl' as const], spillBudgetBytes: 2000 };
    const stop = new Error('stopped mid-read');
    await assert.rejects(replayTopic({ ...options, onProgress: (p) => { if (p.phase === 'read') throw stop; } }), (e) => e === stop);
    const spilled = (await readdir(join(outDir, '.replay', 'spill'))).filter((name) => name.endsWith('.run'));
    assert.ok(spilled.length > 0, 'the stopped replay left complete spill files');
    const resumed = await replayTopic(options);
    assert.ok(resumed.recordsRead > 0 && resumed.recordsRead < RUNS, `read ${resumed.recordsRead} of ${RUNS} records again`);
    const reference = await replay(spread, 'resumed-reference', { formats: ['jsonl'] });
    assert.deepEqual(await filesOf(outDir), await filesOf(join(work, 'resumed-reference')));
    assert.equal(resumed.manifest.files.length, reference.manifest.files.length, 'no duplicate shard');
  });

  it('a replay stopped while writing, then started again, ends with the same files and no duplicate shard', async () => {
    const outDir = join(work, 'resumed-write');
    const stop = new Error('stopped mid-write');
    await assert.rejects(replay(spread, 'resumed-write', { onProgress: (p) => { if (p.phase === 'write') throw stop; } }), (e) => e === stop);
    // A later replay of other options into the same directory is refused rather than mixed in.
    await assert.rejects(replay(spread, 'resumed-write', { filter: { outcomes: ['ok'] } }), /interrupted replay with other options/);
    const resumed = await replay(spread, 'resumed-write');
    assert.equal(resumed.recordsRead, 0, 'the spill covered every offset: nothing is read again');
    const expected = Object.fromEntries(Object.entries(await filesOf(join(work, 'twice-1'))).filter(([path]) => !path.includes('.zst')));
    const got = await filesOf(outDir);
    assert.deepEqual(Object.keys(got).sort(), Object.keys(expected).filter((p) => p.startsWith('data/')).concat(['README.md', 'manifest.json']).sort());
    for (const file of resumed.manifest.files) assert.equal(got[file.path], expected[file.path], file.path);
  });

  it('a replay of two topics killed with SIGKILL mid-read, then started again, ends with the files of one topic holding the same records', async () => {
    const [one, x, y] = [uniqueName('traces-kill'), uniqueName('traces-kill-x'), uniqueName('traces-kill-y')];
    const many = await Promise.all(Array.from({ length: 400 }, async (_, i) => {
      const t = syntheticTrace(i, 40);
      return { key: t.runId, value: await codec.encode('ExecutionTrace', t) };
    }));
    await producer.send([...many.map((r) => ({ topic: one, ...r })), ...many.map((r, i) => ({ topic: i < 150 ? x : y, ...r }))]);
    const outDir = join(work, 'killed');
    const spillDir = join(outDir, '.replay', 'spill');
    const args = [MAIN, 'replay', '--out', outDir, '--topic', `${x},${y}`, '--spill-budget-bytes', '1500', '--format', 'jsonl,compact'];
    const env = { KAFKA_BROKERS: client.bootstrapServers };
    const child = execa(process.execPath, args, { env, reject: false });
    // Every small spill file is synced before the next: the read phase lasts long enough to be caught.
    for (;;) {
      const names = await readdir(spillDir).catch(() => [] as string[]);
      if (names.filter((n) => n.endsWith('.run')).length >= 3) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    child.kill('SIGKILL');
    const killed = await child;
    assert.equal(killed.signal, 'SIGKILL', 'the replay was still running when it was killed');
    await assert.rejects(readFile(join(outDir, 'manifest.json')), 'no manifest: the killed replay had not finished');
    const resumed = await execa(process.execPath, args, { env, reject: false, all: true });
    assert.equal(resumed.exitCode, 0, resumed.all);
    await execa(process.execPath, [MAIN, 'replay', '--out', join(work, 'killed-reference'), '--topic', one, '--format', 'jsonl,compact'], { env });
    assert.deepEqual(dataFiles(await filesOf(outDir)), dataFiles(await filesOf(join(work, 'killed-reference'))));
    assert.deepEqual(Object.keys(await filesOf(outDir)).filter((path) => !path.startsWith('data/')).sort(), ['README.md', 'manifest.json'], 'no work files are left behind');
    const manifest = JSON.parse(await readFile(join(outDir, 'manifest.json'), 'utf8')) as DatasetManifest;
    assert.deepEqual(manifest.topics.map((t) => [t.topic, t.partitions.reduce((n, p) => n + p.end - p.start, 0)]), [[x, 150], [y, 250]]);
    assert.equal(manifest.records.written, 400);
  });

  it('--follow republishes the dataset as traces arrive and continues where it stopped', async () => {
    const topic = uniqueName('traces-follow');
    const send = (slice: ExecutionTrace[]) => Promise.all(slice.map(async (t) => ({ topic, key: t.runId, value: await codec.encode('ExecutionTrace', t) }))).then((r) => producer.send(r));
    await send(traces.slice(0, 20));
    const stop = new AbortController();
    const written: number[] = [];
    const following = followTopic({ client, codec, topics: [topic], outDir: join(work, 'follow') }, {
      signal: stop.signal,
      pollIntervalMs: 100,
      onRound: ({ manifest }) => {
        written.push(manifest.records.written);
        if (manifest.records.written === 20) void send(traces.slice(20));
        if (manifest.records.written === RUNS) stop.abort();
      },
    });
    const last = await following;
    assert.deepEqual([written[0], written.at(-1)], [20, RUNS]);
    assert.equal(last?.manifest.records.written, RUNS);
    const rows = await query(`select count(*)::INTEGER as n from read_parquet('${join(work, 'follow')}/data/*.parquet')`);
    assert.equal(rows[0]!['n'], RUNS);
  });

  it('a record that is no trace is skipped, named in the manifest with its reason, and the rest is written', async () => {
    const topic = uniqueName('traces-bad');
    await producer.send([
      { topic, partition: 0, key: 'x', value: Buffer.from('{"not":"avro"}') },
      { topic, partition: 0, key: traces[0]!.runId, value: await codec.encode('ExecutionTrace', traces[0]!) },
    ]);
    const { manifest } = await replay(topic, 'bad');
    assert.equal(manifest.records.written, 1);
    assert.equal(manifest.records.skipped, 1);
    assert.equal(manifest.skipped[0]!.offset, 0);
    assert.match(manifest.skipped[0]!.reason, /bad magic byte/);
    const card = await readFile(join(work, 'bad', 'README.md'), 'utf8');
    assert.match(card, /^---\n/);
    assert.match(card, /config_name: "default"/);
  });

  it('reads from saved offsets: a second replay of two topics from the first one\'s end offsets holds only what came after', async () => {
    const topics = [uniqueName('traces-grow-a'), uniqueName('traces-grow-b')];
    const send = (slice: ExecutionTrace[], offset: number) => Promise.all(slice.map(async (t, i) => ({
      topic: topics[(offset + i) % 2]!, key: t.runId, value: await codec.encode('ExecutionTrace', t),
    }))).then((r) => producer.send(r));
    await send(traces.slice(0, 30), 0);
    const first = await replay(topics, 'grow-1');
    await send(traces.slice(30), 30);
    const second = await replay(topics, 'grow-2', { start: { from: 'offsets', offsets: endOffsetsOf(first.manifest) } });
    assert.equal(first.manifest.records.written, 30);
    assert.equal(second.manifest.records.written, RUNS - 30);
    const manifest = JSON.parse(await readFile(join(work, 'grow-2', 'manifest.json'), 'utf8')) as DatasetManifest;
    const ranges = (m: DatasetManifest, edge: 'start' | 'end') => m.topics.map((t) => [t.topic, t.partitions.map((p) => p[edge])]);
    assert.deepEqual(ranges(manifest, 'start'), ranges(first.manifest, 'end'));
    // A manifest written before several topics could be replayed together names one topic.
    assert.deepEqual(endOffsetsOf({ topic: 't', partitions: [{ partition: 0, start: 0, end: 7 }, { partition: 1, start: 2, end: 3 }] }), { t: { 0: 7, 1: 3 } });
    assert.throws(() => endOffsetsOf({ files: [] }, 'x.json'), /x\.json is not a dataset manifest/);
  });
});
