/**
 * How the Parquet libraries on npm write the dataset's rows (nested steps included): file bytes
 * per executed step, seconds, and the heap they grew to. The dataset's writer (src/dataset/parquet.ts)
 * uses the winner; README "Replay" says why.
 *
 *   npm run build && node dist/bench/parquet-libraries.js TRACES.jsonl [--corpus CORPUS.jsonl] [--limit N]
 *
 * Each library writes the same rows as one file, zstd where it has zstd (@dsnp/parquetjs has none:
 * brotli there), one library per child process so that peak RSS is its own.
 */
import { execFile } from 'node:child_process';
import { createReadStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import type { ExecutionTrace } from '../src/avro/index.js';
import { DATASET_COLUMNS, toDatasetRow, type ColumnType, type DatasetRow } from '../src/dataset/index.js';
import { openParquetShard } from '../src/dataset/parquet.js';

const LIBRARIES = ['hyparquet-writer', 'parquet-wasm+apache-arrow', '@dsnp/parquetjs'] as const;
type Library = (typeof LIBRARIES)[number];

async function loadRows(path: string, corpusPath: string, limit: number): Promise<DatasetRow[]> {
  const corpus = new Map<string, string>();
  for (const line of readFileSync(corpusPath, 'utf8').split('\n')) {
    if (line.trim() !== '') corpus.set((JSON.parse(line) as { id: string }).id, (JSON.parse(line) as { source: string }).source);
  }
  const rows: DatasetRow[] = [];
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    if (line.trim() === '') continue;
    const trace = JSON.parse(line) as ExecutionTrace;
    rows.push(toDatasetRow({ ...trace, source: trace.source ?? corpus.get(trace.solutionId) ?? '', stdin: trace.stdin ?? '', origin: trace.origin ?? {} }));
    if (rows.length >= limit) break;
  }
  return rows;
}

async function write(library: Library, rows: DatasetRow[], path: string): Promise<void> {
  if (library === 'hyparquet-writer') {
    const shard = openParquetShard(path, { zstdLevel: 9 });
    for (let i = 0; i < rows.length; i += 500) await shard.writeRowGroup(rows.slice(i, i + 500));
    await shard.close();
  } else if (library === 'parquet-wasm+apache-arrow') {
    const arrow = await import('apache-arrow');
    const wasm = await import('parquet-wasm');
    const typeOf = (type: ColumnType): InstanceType<typeof arrow.DataType> => {
      switch (type.kind) {
        case 'string': case 'json': return new arrow.Utf8();
        case 'int32': return new arrow.Int32();
        case 'int64': return new arrow.Int64();
        case 'bool': return new arrow.Bool();
        case 'struct': return new arrow.Struct(type.fields.map((f) => new arrow.Field(f.name, typeOf(f.type), f.type.kind !== 'list' && f.type.nullable === true)));
        case 'list': return new arrow.List(new arrow.Field('element', typeOf(type.element), false));
      }
    };
    const bigints = (type: ColumnType, v: unknown): unknown => {
      if (v === null) return v;
      if (type.kind === 'int64') return BigInt(v as number);
      if (type.kind === 'struct') return Object.fromEntries(type.fields.map((f) => [f.name, bigints(f.type, (v as Record<string, unknown>)[f.name])]));
      if (type.kind === 'list') return (v as unknown[]).map((x) => bigints(type.element, x));
      return v;
    };
    const parts: Uint8Array[] = [];
    for (let i = 0; i < rows.length; i += 500) {
      const slice = rows.slice(i, i + 500);
      const columns = Object.fromEntries(DATASET_COLUMNS.map((c) => [c.name, arrow.vectorFromArray(slice.map((r) => bigints(c.type, r[c.name as keyof DatasetRow])), typeOf(c.type))]));
      parts.push(arrow.tableToIPC(new arrow.Table(columns), 'stream'));
    }
    // One file: the IPC batches are concatenated into one Arrow table first (parquet-wasm writes a Table).
    const tables = parts.map((p) => arrow.tableFromIPC(p));
    const table = tables.slice(1).reduce((a, b) => a.concat(b), tables[0]!);
    const props = new wasm.WriterPropertiesBuilder().setCompression(wasm.Compression.ZSTD).setMaxRowGroupSize(500).build();
    writeFileSync(path, wasm.writeParquet(wasm.Table.fromIPCStream(arrow.tableToIPC(table, 'stream')), props));
  } else {
    const parquetjs = await import('@dsnp/parquetjs');
    const fieldOf = (type: ColumnType): Record<string, unknown> => {
      switch (type.kind) {
        case 'string': case 'json': return { type: 'UTF8', optional: type.nullable === true, compression: 'BROTLI' };
        case 'int32': return { type: 'INT32', optional: type.nullable === true, compression: 'BROTLI' };
        case 'int64': return { type: 'INT64', optional: type.nullable === true, compression: 'BROTLI' };
        case 'bool': return { type: 'BOOLEAN', optional: type.nullable === true, compression: 'BROTLI' };
        case 'struct': return { optional: type.nullable === true, fields: Object.fromEntries(type.fields.map((f) => [f.name, fieldOf(f.type)])) };
        case 'list': return { ...fieldOf(type.element), repeated: true, optional: false };
      }
    };
    const schema = new parquetjs.ParquetSchema(Object.fromEntries(DATASET_COLUMNS.map((c) => [c.name, fieldOf(c.type)])) as never);
    const writer = await parquetjs.ParquetWriter.openFile(schema, path, { rowGroupSize: 500 } as never);
    for (const row of rows) await writer.appendRow(row as never);
    await writer.close();
  }
}

async function child(library: Library, tracesPath: string, corpusPath: string, limit: number, out: string): Promise<void> {
  const rows = await loadRows(tracesPath, corpusPath, limit);
  const steps = rows.reduce((n, r) => n + r.step_count, 0);
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  await write(library, rows, out);
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`${JSON.stringify({ library, rows: rows.length, steps, seconds, bytes: statSync(out).size, peakRssGrowthBytes: process.resourceUsage().maxRSS * 1024 - rssBefore })}\n`);
}

async function main(argv: readonly string[]): Promise<void> {
  const { positionals, values } = parseArgs({ args: [...argv], allowPositionals: true, options: { corpus: { type: 'string' }, limit: { type: 'string' }, child: { type: 'string' }, out: { type: 'string' } } });
  const tracesPath = positionals[0];
  if (tracesPath === undefined) throw new Error('usage: node dist/bench/parquet-libraries.js TRACES.jsonl [--corpus CORPUS.jsonl] [--limit N]');
  const corpusPath = values.corpus ?? resolve(process.cwd(), '../shared/corpus/hackerrank-dev.jsonl');
  const limit = values.limit === undefined ? 500 : Number(values.limit);
  if (values.child !== undefined) return child(values.child as Library, tracesPath, corpusPath, limit, values.out!);
  const work = await mkdtemp(join(tmpdir(), 'tracestream-parquet-libs-'));
  try {
    for (const library of LIBRARIES) {
      const args = [fileURLToPath(import.meta.url), tracesPath, '--corpus', corpusPath, '--limit', String(limit), '--child', library, '--out', join(work, `${library.replace(/\W/g, '_')}.parquet`)];
      try {
        const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', ...args], { maxBuffer: 2 ** 24 });
        const r = JSON.parse(stdout.trim()) as { rows: number; steps: number; seconds: number; bytes: number; peakRssGrowthBytes: number };
        console.log(`${library.padEnd(26)} ${(r.bytes / r.steps).toFixed(2)} B/step  ${r.seconds.toFixed(2)} s  ${(r.steps / r.seconds / 1000).toFixed(0)}k steps/s  peak RSS +${(r.peakRssGrowthBytes / 2 ** 20).toFixed(0)} MiB  (${r.rows} runs, ${r.steps} steps)`);
      } catch (error) {
        console.log(`${library.padEnd(26)} failed: ${String((error as { stderr?: string }).stderr ?? error).split('\n').filter((l) => /Error/.test(l))[0] ?? error}`);
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
