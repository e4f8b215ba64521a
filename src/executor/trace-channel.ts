import type { ChangeKind, ExceptionInfo, Step, StepEvent, VariableChange } from '../runs/index.js';

/** How the child process said it ended (its last record on the trace channel). */
export interface ChildEnd {
  status: 'ok' | 'exception' | 'exit' | 'syntax-error' | 'step-limit' | 'output-limit' | 'memory' | 'timeout' | 'cpu-timeout';
  exception: ExceptionInfo | null;
  exitCode: number;
  stepCount: number;
  /** Set when the tracer itself failed and stopped recording (a bug of ours, reported, not hidden). */
  tracerError: string | null;
}

/** Why steps are missing from the end: a limit, the tracer's own failure, or the process died mid-record (`cut`). */
export type Truncation = 'trace-bytes' | 'step-limit' | 'tracer-error' | 'cut';

export interface TraceChannelResult {
  /** Sorted by index, unique. */
  steps: Step[];
  end: ChildEnd | null;
  truncation: Truncation | null;
  /**
   * Set when the channel holds something our tracer never writes (the program wrote on it): what
   * was wrong, for the run's reason. Nothing on a corrupt channel is trusted (see `verifyChannel`).
   */
  corruption: string | null;
  tracerVersion: string | null;
  pythonVersion: string | null;
  /**
   * The text credited to steps, in the order the program printed it: each piece is an `out`
   * record's or a step record's stdout, in channel order (see python/tracer.py). A step's stdout
   * is its pieces joined.
   */
  printed: string[];
}

const EVENTS: ReadonlySet<string> = new Set<StepEvent>(['call', 'line', 'return', 'exception']);
const KINDS: Record<string, ChangeKind> = { n: 'new', m: 'modified', d: 'deleted' };
const END_STATUSES: ReadonlySet<string> = new Set<ChildEnd['status']>([
  'ok', 'exception', 'exit', 'syntax-error', 'step-limit', 'output-limit', 'memory', 'timeout', 'cpu-timeout',
]);

/**
 * Reads what the tracer wrote on its channel: one JSON value per line — `{"start"}`, `{"frame"}`,
 * full and short step arrays, `{"out"}`, `{"truncated"}`, `{"end"}` (see python/tracer.py). The channel is
 * untrusted input (the program can write to its fd): every field is checked against what the
 * tracer writes and what the events can carry (integers in range, one end record and nothing after
 * it, unique step indices below the end's step count). The first record that fails sets
 * `corruption` and reading stops. Only a last line cut short without an end record (the process
 * died mid-write) is a `cut` truncation rather than corruption.
 */
export function parseTraceChannel(bytes: Buffer): TraceChannelResult {
  const reading: Reading = {
    result: { steps: [], end: null, truncation: null, corruption: null, tracerVersion: null, pythonVersion: null, printed: [] },
    frames: new Map(),
    indices: new Set(),
    printedBefore: new Map(),
    started: false,
  };
  const { result } = reading;
  const text = bytes.toString('utf8');
  // One JSON.parse over the whole channel (a JSON string never holds a raw newline, so lines become
  // array elements) costs a fraction of one call per step; a channel that does not parse as a whole
  // is read line by line to find the first bad record.
  const records = parseAll(text);
  if (records !== undefined) {
    for (const record of records) {
      result.corruption = readRecord(record, reading);
      if (result.corruption !== null) break;
    }
  } else {
    let start = 0;
    while (start < text.length) {
      let newline = text.indexOf('\n', start);
      const unterminated = newline === -1;
      if (unterminated) newline = text.length;
      const line = text.slice(start, newline);
      start = newline + 1;
      if (line.length === 0) continue;
      const record = parseLine(line);
      if (record === undefined && unterminated && result.end === null) {
        result.truncation = 'cut';
        break;
      }
      result.corruption = record === undefined ? `line ${describeLine(text, start - line.length - 1)} is not JSON` : readRecord(record, reading);
      if (result.corruption !== null) break;
    }
  }
  if (result.corruption === null && result.end !== null) result.corruption = checkAgainstEnd(result.end, reading);
  if (result.end?.status === 'step-limit' && result.truncation === null) result.truncation = 'step-limit';
  if (result.end?.tracerError && result.truncation === null) result.truncation = 'tracer-error';
  result.steps.sort((a, b) => a.index - b.index);
  return result;
}

interface Reading {
  result: TraceChannelResult;
  frames: Frames;
  indices: Set<number>;
  /** `out` records' text of steps whose own record has not come yet. */
  printedBefore: Map<number, string>;
  started: boolean;
}

function describeLine(text: string, offset: number): string {
  let line = 1;
  for (let at = text.indexOf('\n'); at !== -1 && at < offset; at = text.indexOf('\n', at + 1)) line++;
  return String(line);
}

function checkAgainstEnd(end: ChildEnd, reading: Reading): string | null {
  if (reading.result.steps.length > end.stepCount) {
    return `${reading.result.steps.length} steps recorded but the end record counts ${end.stepCount}`;
  }
  for (const index of [...reading.indices, ...reading.printedBefore.keys()]) {
    if (index >= end.stepCount) return `step ${index} is past the end record's step count ${end.stepCount}`;
  }
  return null;
}

function parseAll(text: string): unknown[] | undefined {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (body.length === 0) return [];
  if (body.includes('\n\n')) return undefined;
  try {
    return JSON.parse(`[${body.replaceAll('\n', ',')}]`) as unknown[];
  } catch {
    return undefined;
  }
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return undefined;
  }
}

/** Depth and function of each frame id that short step records refer to. */
type Frames = Map<number, { depth: number; function: string }>;

// Avro `int` and `long` fields the values go to; JSON numbers that are not integers in range are refused.
const MAX_INT = 2 ** 31 - 1;
const MAX_VERSION_CHARS = 64;

const isCount = (value: unknown, max = Number.MAX_SAFE_INTEGER): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max;

/** Null when the record is one the tracer writes, in a place it writes it; otherwise what is wrong. */
function readRecord(record: unknown, reading: Reading): string | null {
  const { result } = reading;
  if (result.end !== null) return 'a record after the end record';
  if (Array.isArray(record)) {
    const step = record.length === 4 ? toShortStep(record, reading.frames) : toStep(record);
    if (typeof step === 'string') return step;
    if (reading.indices.has(step.index)) return `step ${step.index} recorded twice`;
    reading.indices.add(step.index);
    if (step.stdout !== '') result.printed.push(step.stdout);
    const before = reading.printedBefore.get(step.index);
    if (before !== undefined) {
      step.stdout = before + step.stdout;
      reading.printedBefore.delete(step.index);
    }
    result.steps.push(step);
    return null;
  }
  if (!isObject(record)) return 'a record that is neither a step nor an object';
  const keys = Object.keys(record);
  if (keys.length !== 1) return `a record with fields ${keys.slice(0, 5).join(', ')}`;
  if ('frame' in record) {
    const frame = record.frame;
    if (!Array.isArray(frame) || frame.length !== 3) return 'a frame record that is not [id, depth, function]';
    const [id, depth, fn] = frame as unknown[];
    if (!isCount(id) || !isCount(depth, MAX_INT) || typeof fn !== 'string') return 'a frame record with a bad id, depth or function';
    if (reading.frames.has(id)) return `frame ${id} declared twice`;
    reading.frames.set(id, { depth, function: fn });
    return null;
  }
  if ('out' in record) {
    const out = record.out;
    if (!Array.isArray(out) || out.length !== 2) return 'an out record that is not [index, stdout]';
    const [index, stdout] = out as unknown[];
    if (!isCount(index) || typeof stdout !== 'string' || stdout === '') return 'an out record with a bad index or stdout';
    if (reading.indices.has(index)) return `an out record for step ${index} after its step record`;
    reading.printedBefore.set(index, (reading.printedBefore.get(index) ?? '') + stdout);
    result.printed.push(stdout);
    return null;
  }
  if ('start' in record) {
    if (reading.started || !isObject(record.start)) return 'a second or malformed start record';
    reading.started = true;
    const { tracer, python } = record.start;
    if (!isVersion(tracer) || !isVersion(python)) return 'a start record with a bad tracer or python version';
    result.tracerVersion = tracer;
    result.pythonVersion = python;
    return null;
  }
  if ('truncated' in record) {
    if (record.truncated !== 'trace-bytes' && record.truncated !== 'tracer-error') return 'an unknown truncation reason';
    result.truncation = record.truncated;
    return null;
  }
  if ('end' in record) {
    const end = isObject(record.end) ? toEnd(record.end) : null;
    if (end === null) return 'a malformed end record';
    result.end = end;
    return null;
  }
  return `an unknown record ${JSON.stringify(keys[0]).slice(0, 40)}`;
}

function isVersion(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_VERSION_CHARS;
}

/** `[index, line, frame id, changes]`: a line step of a declared frame that printed nothing. */
function toShortStep(record: unknown[], frames: Frames): Step | string {
  const [index, line, frameId, changes] = record;
  const frame = isCount(frameId) ? frames.get(frameId) : undefined;
  if (frame === undefined) return `a short step naming an undeclared frame ${String(frameId).slice(0, 20)}`;
  return toStep([index, 'line', line, frame.depth, frame.function, changes, null, null, '']);
}

function toStep(record: unknown[]): Step | string {
  if (record.length !== 9) return `a step record of ${record.length} fields`;
  const [index, event, line, depth, fn, changes, value, exception, stdout] = record;
  if (!isCount(index)) return 'a step with an index that is not a non-negative integer';
  if (typeof event !== 'string' || !EVENTS.has(event)) return `step ${index}: unknown event`;
  if (!isCount(line, MAX_INT)) return `step ${index}: line number is not a non-negative integer`;
  if (!isCount(depth, MAX_INT)) return `step ${index}: depth is not a non-negative integer`;
  if (typeof fn !== 'string' || !Array.isArray(changes) || (value !== null && typeof value !== 'string') || typeof stdout !== 'string') {
    return `step ${index}: a field of the wrong type`;
  }
  const parsedChanges: VariableChange[] = [];
  for (const change of changes) {
    if (!Array.isArray(change) || change.length !== 3) return `step ${index}: a change that is not [name, kind, value]`;
    const [name, kind, text] = change as unknown[];
    const changeKind = typeof kind === 'string' ? KINDS[kind] : undefined;
    if (typeof name !== 'string' || changeKind === undefined || (text !== null && typeof text !== 'string')) {
      return `step ${index}: a malformed change`;
    }
    parsedChanges.push({ name, kind: changeKind, value: text });
  }
  const parsedException = exception === null ? null : toException(exception);
  if (exception !== null && parsedException === null) return `step ${index}: a malformed exception`;
  return {
    index, event: event as StepEvent, line, depth, function: fn, changes: parsedChanges,
    value, exception: parsedException, stdout,
  };
}

function toException(value: unknown): ExceptionInfo | null {
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'string' || typeof value[1] !== 'string') return null;
  return { type: value[0], message: value[1] };
}

function toEnd(fields: Record<string, unknown>): ChildEnd | null {
  const { status, exception, exit_code: exitCode, step_count: stepCount, tracer_error: tracerError } = fields;
  if (typeof status !== 'string' || !END_STATUSES.has(status) || typeof exitCode !== 'number' || !Number.isSafeInteger(exitCode) || !isCount(stepCount)) {
    return null;
  }
  const parsedException = exception == null ? null : toException(exception);
  if (exception != null && parsedException === null) return null;
  if (tracerError != null && typeof tracerError !== 'string') return null;
  return {
    status: status as ChildEnd['status'],
    exception: parsedException,
    exitCode,
    stepCount,
    tracerError: typeof tracerError === 'string' ? tracerError : null,
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
