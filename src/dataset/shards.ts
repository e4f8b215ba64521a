import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { CompressStream } from 'zstd-napi';
import type { Split } from './splits.js';
import { openParquetShard, type ParquetShard } from './parquet.js';
import type { DatasetRow } from './row.js';
import { RowGroupBuffer } from './row-group-buffer.js';

/** The file formats of a dataset. Parquet is always written; the others are asked for with `--format`. */
export type DatasetFormat = 'parquet' | 'jsonl' | 'compact';

export const FORMAT_EXTENSIONS: Readonly<Record<DatasetFormat, string>> = {
  parquet: 'parquet',
  jsonl: 'jsonl.zst',
  compact: 'compact.txt.zst',
};

export interface ShardLimits {
  /** A shard is closed once the traces it holds reach this many bytes (as Avro, the size on the topic). */
  shardBytes: number;
  /** A Parquet row group is written once its traces reach this many bytes: what one split holds in memory. */
  rowGroupBytes: number;
  /**
   * ...or once they hold this many executed steps. Decoding a row group is what the write phase
   * holds at its peak, and a decoded trace's size follows its steps more than its bytes: a trace cut
   * at the byte cap after 100k small steps decodes to several times what its bytes suggest.
   */
  rowGroupSteps: number;
  zstdLevel: number;
}

/** One file a split writer finished, before it gets its final `-of-NNNNN` name. */
export interface StagedShard {
  split: Split;
  index: number;
  format: DatasetFormat;
  path: string;
  rows: number;
  steps: number;
}

/**
 * The largest trace a row group's buffer has room for beyond the row group's size: a trace is cut
 * at 2 MiB of steps by default, plus its output and source (the dev corpus' largest: 3.99 MB).
 */
const LARGEST_TRACE_BYTES = 4 * 1024 * 1024;

/** A row of the dataset from its trace as it was on the topic (Avro). */
export type RowDecoder = (trace: Buffer) => Promise<DatasetRow>;

/**
 * Writes one split's rows, in the order given, into numbered shards in `dir`: shard boundaries and
 * row groups are decided by the traces' sizes alone, so the same traces always give the same files.
 * A row group is held as its traces' Avro bytes, the most compact form at hand (copied into one
 * buffer per split, see row-group-buffer.ts), and decoded into rows only when it is written (a
 * decoded row takes about ten times its Avro size): memory is one row group of traces per split,
 * one decoded row group at a time (garbage once written; how soon V8 collects it is set by
 * `limitHeapGrowth`, which `replayTopic` holds), and the compressors' windows.
 */
export class SplitWriter {
  private readonly staged: StagedShard[] = [];
  private shard: OpenShard | undefined;
  private shardIndex = 0;
  private shardBytes = 0;
  private group: Buffer[] = [];
  private groupBytes = 0;
  private groupSteps = 0;
  /** Holds the row group's traces until it is written. */
  private readonly groupBuffer: RowGroupBuffer;

  constructor(
    private readonly dir: string,
    private readonly split: Split,
    private readonly formats: readonly DatasetFormat[],
    private readonly limits: ShardLimits,
    private readonly rowOf: RowDecoder,
  ) {
    this.groupBuffer = new RowGroupBuffer(limits.rowGroupBytes + LARGEST_TRACE_BYTES);
  }

  /** Adds a run by its trace on the topic (Avro; copied: the caller may reuse its bytes), whose size paces shards and row groups. */
  async add(trace: Buffer, stepCount: number): Promise<void> {
    this.shard ??= this.openShard();
    this.group.push(this.groupBuffer.hold(trace));
    this.groupBytes += trace.length;
    this.groupSteps += stepCount;
    this.shardBytes += trace.length;
    this.shard.rows += 1;
    this.shard.steps += stepCount;
    if (this.groupBytes >= this.limits.rowGroupBytes || this.groupSteps >= this.limits.rowGroupSteps) await this.flushGroup();
    if (this.shardBytes >= this.limits.shardBytes) await this.closeShard();
  }

  /**
   * Closes the open shard's files as they are, after a failure (a run that cannot be decoded, a
   * full disk): they are left unfinished in the staging directory, which a replay started again
   * clears. The SplitWriter is not used afterwards.
   */
  abandon(): void {
    const shard = this.shard;
    this.shard = undefined;
    shard?.abandon();
  }

  /** Closes the open shard; returns every file this split wrote. */
  async finish(): Promise<StagedShard[]> {
    await this.closeShard();
    return this.staged;
  }

  private async flushGroup(): Promise<void> {
    if (this.shard === undefined || this.group.length === 0) return;
    const traces = this.group;
    this.group = [];
    this.groupBytes = 0;
    this.groupSteps = 0;
    const rows: DatasetRow[] = [];
    for (const trace of traces) {
      const row = await this.rowOf(trace);
      await this.shard.writeText(row);
      rows.push(row);
    }
    await this.shard.parquet.writeRowGroup(rows);
    this.groupBuffer.clear();
  }

  private async closeShard(): Promise<void> {
    if (this.shard === undefined) return;
    await this.flushGroup();
    const shard = this.shard;
    this.shard = undefined;
    await shard.close();
    for (const [format, path] of shard.paths) {
      this.staged.push({ split: this.split, index: this.shardIndex, format, path, rows: shard.rows, steps: shard.steps });
    }
    this.shardIndex += 1;
    this.shardBytes = 0;
  }

  private openShard(): OpenShard {
    const base = join(this.dir, `${this.split}-${String(this.shardIndex).padStart(5, '0')}`);
    const paths = new Map<DatasetFormat, string>(this.formats.map((format) => [format, `${base}.${FORMAT_EXTENSIONS[format]}`]));
    const parquet = openParquetShard(paths.get('parquet')!, { zstdLevel: this.limits.zstdLevel });
    const jsonl = paths.has('jsonl') ? new ZstdTextFile(paths.get('jsonl')!, this.limits.zstdLevel) : undefined;
    const compact = paths.has('compact') ? new ZstdTextFile(paths.get('compact')!, this.limits.zstdLevel) : undefined;
    return {
      paths,
      parquet,
      rows: 0,
      steps: 0,
      async writeText(row) {
        if (jsonl !== undefined) await jsonl.write(`${JSON.stringify(row)}\n`);
        // Runs are separated by a line naming them, which no compact record can start with.
        if (compact !== undefined) await compact.write(`### ${row.run_id}\n${row.compact}`);
      },
      async close() {
        await parquet.close();
        await jsonl?.close();
        await compact?.close();
      },
      abandon() {
        parquet.abandon();
        jsonl?.abandon();
        compact?.abandon();
      },
    };
  }
}

interface OpenShard {
  readonly paths: ReadonlyMap<DatasetFormat, string>;
  readonly parquet: ParquetShard;
  rows: number;
  steps: number;
  writeText(row: DatasetRow): Promise<void>;
  close(): Promise<void>;
  abandon(): void;
}

/** A zstd-compressed text file written as a stream, waiting for the disk when its buffer is full. */
class ZstdTextFile {
  private readonly zstd: CompressStream;
  private readonly file: WriteStream;
  private readonly done: Promise<unknown>;

  constructor(path: string, level: number) {
    this.zstd = new CompressStream({ compressionLevel: level });
    this.file = createWriteStream(path);
    this.zstd.pipe(this.file);
    this.done = once(this.file, 'close');
  }

  async write(text: string): Promise<void> {
    if (!this.zstd.write(text)) await once(this.zstd, 'drain');
  }

  async close(): Promise<void> {
    this.zstd.end();
    await this.done;
  }

  abandon(): void {
    this.zstd.destroy();
    this.file.destroy();
  }
}
