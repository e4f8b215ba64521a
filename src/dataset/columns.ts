import type { ParquetWriter } from 'hyparquet-writer';

/** hyparquet-writer's own element type (its bundled hyparquet, not the reader installed for tests). */
type SchemaElement = ConstructorParameters<typeof ParquetWriter>[0]['schema'][number];

/**
 * The dataset's columns, written once: the Parquet schema, the dataset card's `features` and the
 * documentation are all derived from this tree, so they cannot drift apart. The order is the order
 * of `DatasetRow`'s fields (row.ts); the Parquet test reads every column back.
 */
export type ColumnType =
  | { kind: 'string' | 'int32' | 'int64' | 'bool' | 'json'; nullable?: boolean }
  | { kind: 'struct'; fields: readonly Column[]; nullable?: boolean }
  | { kind: 'list'; element: ColumnType };

export interface Column {
  name: string;
  type: ColumnType;
  doc: string;
  /**
   * Whether each row group's footer entry carries the column's min and max (what readers prune row
   * groups by); read on top-level columns, and it holds for all their fields. Off for free text of unbounded size: its bounds help no query, and the writer holds
   * every row group's bounds (whole values) in memory until the shard closes, so a shard of many
   * row groups would keep many of its largest sources, inputs and traces alive.
   */
  minMax: boolean;
}

const string = (nullable = false): ColumnType => ({ kind: 'string', nullable });
const col = (name: string, type: ColumnType, doc: string): Column => ({ name, type, doc, minMax: true });
/** A column of free text (or holding some): no min/max statistics, see `Column.minMax`. */
const text = (name: string, type: ColumnType, doc: string): Column => ({ name, type, doc, minMax: false });

const EXCEPTION_FIELDS: readonly Column[] = [
  col('type', string(), 'Qualified type name, e.g. ValueError.'),
  col('message', string(), 'str() of the exception.'),
];

export const DATASET_COLUMNS: readonly Column[] = [
  col('run_id', string(), '`<solution_id>#<input_index>`: one row per run id.'),
  col('solution_id', string(), 'The submitted solution.'),
  col('problem_id', string(), 'Its problem; the split is decided by this id alone.'),
  col('input_index', { kind: 'int32' }, 'Which of the solution\'s inputs this run read.'),
  col('content_hash', string(), 'SHA-256 of source + NUL + stdin (hex): equal for identical runs.'),
  text('source', string(), 'The program.'),
  text('stdin', string(), 'Its standard input.'),
  text('origin', { kind: 'json' }, 'Where the program came from (repo, path, commit, url, ...), a JSON object.'),
  col('outcome', string(), 'ok, error, timeout, memory, output-limit, step-limit, syntax-error or killed.'),
  text('reason', string(), 'One line saying why the run ended so.'),
  col('exit_code', { kind: 'int32', nullable: true }, 'Exit status; null when a signal ended the process.'),
  col('signal', string(true), 'The signal that ended the process, if any.'),
  text('stdout', string(), 'What the program printed.'),
  text('stderr_tail', string(), 'The last bytes of standard error.'),
  text('output_file', string(true), 'What it wrote to $OUTPUT_PATH (HackerRank\'s template), if anything.'),
  text('exception', { kind: 'struct', fields: EXCEPTION_FIELDS, nullable: true }, 'The uncaught exception that ended the run, if any.'),
  col('step_count', { kind: 'int64' }, 'Steps the tracer saw; more than the length of steps when truncated.'),
  col('truncated', { kind: 'bool' }, 'Steps are missing from the end (a limit stopped recording).'),
  col('tracer_version', string(), 'Version of the line tracer.'),
  col('python_version', string(), 'Version of the interpreter.'),
  col('limits', {
    kind: 'struct',
    fields: [
      col('wall_time_ms', { kind: 'int64' }, 'Wall-clock limit.'),
      col('cpu_time_ms', { kind: 'int64' }, 'CPU-time limit.'),
      col('address_space_bytes', { kind: 'int64' }, 'Address-space limit.'),
      col('output_bytes', { kind: 'int64' }, 'Output limit.'),
      col('max_steps', { kind: 'int64' }, 'Step limit (0: none).'),
      col('trace_bytes', { kind: 'int64' }, 'Trace size kept before the trace is cut.'),
      col('open_files', { kind: 'int32' }, 'Open file descriptors allowed.'),
      col('repr_chars', { kind: 'int32' }, 'Longest repr kept.'),
    ],
  }, 'The resource limits the run was held to.'),
  text('steps', {
    kind: 'list',
    element: {
      kind: 'struct',
      fields: [
        col('index', { kind: 'int32' }, 'Position in the run, from 0 (a run records far fewer than 2^31 steps).'),
        col('event', string(), 'call, line, return or exception.'),
        col('line', { kind: 'int32' }, '1-based line of the source.'),
        col('depth', { kind: 'int32' }, '0 at module level, +1 per traced call.'),
        col('function', string(), 'Qualified name of the running function (<module> at top level).'),
        col('changes', {
          kind: 'list',
          element: {
            kind: 'struct',
            fields: [
              col('name', string(), 'Variable name.'),
              col('kind', string(), 'new, modified or deleted.'),
              col('value', string(true), 'Bounded repr of the new value; null when deleted.'),
            ],
          },
        }, 'For call: the arguments; for line: what the line changed in its frame.'),
        col('value', string(true), 'For return: repr of the returned value.'),
        col('exception', { kind: 'struct', fields: EXCEPTION_FIELDS, nullable: true }, 'For exception/return: what was raised.'),
        col('stdout', string(), 'Text printed while this step ran.'),
      ],
    },
  }, 'Every recorded step, in order.'),
  text('compact', string(), 'The run in the compact trace format (docs/compact-format.md), source header included.'),
];

/** Whether values of `type` hold an int64 somewhere (Parquet writers want those as bigint). */
export function holdsInt64(type: ColumnType): boolean {
  if (type.kind === 'int64') return true;
  if (type.kind === 'struct') return type.fields.some((field) => holdsInt64(field.type));
  if (type.kind === 'list') return holdsInt64(type.element);
  return false;
}

/** `value` with every int64 of `type` as a bigint. */
export function withBigInts(type: ColumnType, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  switch (type.kind) {
    case 'int64':
      return BigInt(value as number);
    case 'struct': {
      const record = value as Record<string, unknown>;
      return Object.fromEntries(type.fields.map((field) => [field.name, withBigInts(field.type, record[field.name])]));
    }
    case 'list':
      return (value as unknown[]).map((item) => withBigInts(type.element, item));
    default:
      return value;
  }
}

/** The columns as a Parquet schema (depth-first, as the format's footer lists them). */
export function parquetSchema(columns: readonly Column[] = DATASET_COLUMNS): SchemaElement[] {
  const elements: SchemaElement[] = [{ name: 'root', num_children: columns.length }];
  for (const column of columns) appendElements(elements, column.name, column.type);
  return elements;
}

function appendElements(out: SchemaElement[], name: string, type: ColumnType): void {
  switch (type.kind) {
    case 'struct':
      out.push({ name, repetition_type: type.nullable === true ? 'OPTIONAL' : 'REQUIRED', num_children: type.fields.length });
      for (const field of type.fields) appendElements(out, field.name, field.type);
      return;
    case 'list':
      // The three-level list layout the Parquet spec asks for, which every reader understands.
      out.push({ name, repetition_type: 'REQUIRED', converted_type: 'LIST', num_children: 1 });
      out.push({ name: 'list', repetition_type: 'REPEATED', num_children: 1 });
      appendElements(out, 'element', type.element);
      return;
    default: {
      const repetition_type = type.nullable === true ? 'OPTIONAL' : 'REQUIRED';
      if (type.kind === 'int32') out.push({ name, type: 'INT32', repetition_type });
      else if (type.kind === 'int64') out.push({ name, type: 'INT64', repetition_type });
      else if (type.kind === 'bool') out.push({ name, type: 'BOOLEAN', repetition_type });
      else if (type.kind === 'json') out.push({ name, type: 'BYTE_ARRAY', converted_type: 'JSON', repetition_type });
      else out.push({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type });
    }
  }
}

/**
 * The columns as the `features` of a Hugging Face dataset card (the YAML `dataset_info.features`),
 * which `datasets` uses instead of guessing types.
 */
export function huggingFaceFeatures(columns: readonly Column[] = DATASET_COLUMNS): unknown[] {
  return columns.map((column) => ({ name: column.name, ...featureOf(column.type) }));
}

function featureOf(type: ColumnType): Record<string, unknown> {
  switch (type.kind) {
    case 'struct':
      return { struct: type.fields.map((field) => ({ name: field.name, ...featureOf(field.type) })) };
    case 'list': {
      const element = featureOf(type.element);
      return { list: 'dtype' in element ? element['dtype'] : (element['struct'] ?? element) };
    }
    case 'json':
    case 'string':
      return { dtype: 'string' };
    case 'bool':
      return { dtype: 'bool' };
    default:
      return { dtype: type.kind };
  }
}
