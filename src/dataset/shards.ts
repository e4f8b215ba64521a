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
  /**
   * A Parquet row group holds at most this many bytes of traces (a larger trace is a row group of
   * its own): what one split holds in memory.
   */
  rowGroupBytes: number;
  /**
   * ...and at most this many executed steps (the same exception). Decoding a row group is what the
   * write phase holds at its peak, and a decoded trace's size follows its steps more than its bytes:
   * a trace cut at the byte cap after 100k small steps decodes to several times what its bytes
   * suggest.
   */
  rowGroupSteps: number;
  /**
   * ...and at most this many variable changes (the same exception), which decode to as much as
   * steps do; a trace's count is known only once it is decoded, so this one is checked as the row
   * group is written.
   */
  rowGroupChanges: number;
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
  /** The row group's traces, as `groupBuffer` holds them, with their step counts. */
  private group: HeldTrace[] = [];
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
    this.groupBuffer = new RowGroupBuffer(limits.rowGroupBytes);
  }

  /** Adds a run by its trace on the topic (Avro; copied: the caller may reuse its bytes), whose size paces shards and row groups. */
  async add(trace: Buffer, stepCount: number): Promise<void> {
    // The row group is written before the trace that would take it past a limit, not after: a row
    // group overshot by its last trace (up to 4 MB and 100k steps more) made the largest row group,
    // and so the write phase's peak, depend on how many row groups the topic made.
    while (this.group.length > 0 && (this.groupBytes + trace.length > this.limits.rowGroupBytes || this.groupSteps + stepCount > this.limits.rowGroupSteps)) {
      await this.writeRowGroup();
    }
    this.shard ??= this.openShard();
    this.group.push({ trace: this.groupBuffer.hold(trace), steps: stepCount });
    this.groupBytes += trace.length;
    this.groupSteps += stepCount;
    this.shardBytes += trace.length;
    this.shard.rows += 1;
    this.shard.steps += stepCount;
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

  /**
   * Writes the group's first traces as one row group: as many as its variable changes allow (at
   * least one); the rest start the next row group. How many changes a trace holds is known only
   * once it is decoded, so the trace that goes past the limit is decoded again with the next group.
   */
  private async writeRowGroup(): Promise<void> {
    const shard = this.shard!;
    const rows: DatasetRow[] = [];
    let changes = 0;
    for (const { trace } of this.group) {
      const row = await this.rowOf(trace);
      const rowChanges = changeCount(row);
      if (rows.length > 0 && changes + rowChanges > this.limits.rowGroupChanges) break;
      changes += rowChanges;
      rows.push(row);
    }
    for (const row of rows) await shard.writeText(row);
    await shard.parquet.writeRowGroup(rows);
    const rest = this.group.slice(rows.length);
    const kept = this.groupBuffer.carryOver(rest.map(({ trace }) => trace));
    this.group = rest.map(({ steps }, i) => ({ trace: kept[i]!, steps }));
    this.groupBytes = kept.reduce((n, trace) => n + trace.length, 0);
    this.groupSteps = rest.reduce((n, { steps }) => n + steps, 0);
  }

  private async closeShard(): Promise<void> {
    if (this.shard === undefined) return;
    while (this.group.length > 0) await this.writeRowGroup();
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

interface HeldTrace {
  trace: Buffer;
  /** As the trace's summary counts them: what the step limit is checked against before decoding. */
  steps: number;
}

function changeCount(row: DatasetRow): number {
  let changes = 0;
  for (const step of row.steps) changes += step.changes.length;
  return changes;
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
