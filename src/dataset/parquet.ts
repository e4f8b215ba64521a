import { ParquetWriter } from 'hyparquet-writer';
import { compress } from 'zstd-napi';
import { DATASET_COLUMNS, holdsInt64, parquetSchema, withBigInts } from './columns.js';
import { ParquetFile } from './parquet-file.js';
import type { DatasetRow } from './row.js';

/**
 * One Parquet file of dataset rows, written a row group at a time (hyparquet-writer, chosen by
 * measurement: README "Replay"), every column zstd-compressed. The bytes depend only on the rows:
 * no timestamps or writer versions go into the footer.
 */
export interface ParquetShard {
  /** Writes `rows` as one row group; the caller bounds how many it buffers. */
  writeRowGroup(rows: readonly DatasetRow[]): Promise<void>;
  /** Writes the footer and closes the file. */
  close(): Promise<void>;
  /** Closes the file as it is, without a footer: after a failure, the file is not a dataset's. */
  abandon(): void;
}

export interface ParquetShardOptions {
  /** zstd level of every column chunk (1-22). */
  zstdLevel: number;
}

const SCHEMA = parquetSchema();
/** Per column, how a row's value becomes what the writer takes (int64s as bigint, the rest as is), and whether it gets min/max statistics. */
const CONVERTERS = DATASET_COLUMNS.map((column) => ({
  name: column.name,
  statistics: column.minMax,
  convert: holdsInt64(column.type) ? (value: unknown) => withBigInts(column.type, value) : undefined,
}));

export function openParquetShard(path: string, options: ParquetShardOptions): ParquetShard {
  const file = new ParquetFile(path);
  const writer = new ParquetWriter({
    writer: file,
    schema: SCHEMA,
    codec: 'ZSTD',
    compressors: { ZSTD: (input: Uint8Array) => compress(input, { compressionLevel: options.zstdLevel }) },
    // A constant writer name: the library's version in the footer would change the bytes on upgrade.
    createdBy: 'tracestream',
  });
  return {
    async writeRowGroup(rows) {
      if (rows.length === 0) return;
      await writer.write({
        columnData: CONVERTERS.map(({ name, convert, statistics }) => ({
          name,
          statistics,
          data: rows.map((row) => (convert === undefined ? row[name as keyof DatasetRow] : convert(row[name as keyof DatasetRow]))),
        })),
        rowGroupSize: rows.length,
      });
    },
    async close() {
      await writer.finish();
    },
    abandon() {
      file.close();
    },
  };
}
