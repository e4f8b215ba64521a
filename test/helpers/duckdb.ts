import { DuckDBInstance } from '@duckdb/node-api';

/**
 * Runs `sql` in a fresh in-memory DuckDB and returns the rows as JSON objects: DuckDB is the
 * Parquet reader the dataset tests check the writer against, an implementation other than its own.
 */
export async function queryDuckDB(sql: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
  }
}
