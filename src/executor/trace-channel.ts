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

export type Truncation = 'trace-bytes' | 'step-limit' | 'tracer-error' | 'corrupt';

export interface TraceChannelResult {
  /** Sorted by index. */
  steps: Step[];
  end: ChildEnd | null;
  truncation: Truncation | null;
  tracerVersion: string | null;
  pythonVersion: string | null;
}

const EVENTS: ReadonlySet<string> = new Set<StepEvent>(['call', 'line', 'return', 'exception']);
const KINDS: Record<string, ChangeKind> = { n: 'new', m: 'modified', d: 'deleted' };
const END_STATUSES: ReadonlySet<string> = new Set<ChildEnd['status']>([
  'ok', 'exception', 'exit', 'syntax-error', 'step-limit', 'output-limit', 'memory', 'timeout', 'cpu-timeout',
]);

/**
 * Reads what the tracer wrote on its channel: one JSON value per line — `{"start"}`, `{"frame"}`,
 * full and short step arrays, `{"truncated"}`, `{"end"}` (see python/tracer.py). The channel is a file the program could, with
 * effort, write to; anything that is not a well-formed record stops the reading there and marks the
 * trace `corrupt` instead of trusting it.
 */
export function parseTraceChannel(bytes: Buffer): TraceChannelResult {
  const result: TraceChannelResult = { steps: [], end: null, truncation: null, tracerVersion: null, pythonVersion: null };
  const text = bytes.toString('utf8');
  const frames: Frames = new Map();
  // One JSON.parse over the whole channel (a JSON string never holds a raw newline, so lines become
  // array elements) costs a fraction of one call per step; a channel that does not parse as a whole
  // is read line by line to keep everything before the first bad record.
  const records = parseAll(text);
  if (records !== undefined) {
    for (const record of records) {
      if (!readRecord(record, result, frames)) {
        result.truncation = 'corrupt';
        break;
      }
    }
  } else {
    let start = 0;
    while (start < text.length) {
      let newline = text.indexOf('\n', start);
      if (newline === -1) newline = text.length;
      const line = text.slice(start, newline);
      start = newline + 1;
      if (line.length === 0) continue;
      const record = parseLine(line);
      if (record === undefined || !readRecord(record, result, frames)) {
        result.truncation = 'corrupt';
        break;
      }
    }
  }
  if (result.end?.status === 'step-limit' && result.truncation === null) result.truncation = 'step-limit';
  if (result.end?.tracerError && result.truncation === null) result.truncation = 'tracer-error';
  result.steps.sort((a, b) => a.index - b.index);
  return result;
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

function readRecord(record: unknown, result: TraceChannelResult, frames: Frames): boolean {
  if (Array.isArray(record)) {
    const step = record.length === 4 ? toShortStep(record, frames) : toStep(record);
    if (step === null) return false;
    result.steps.push(step);
    return true;
  }
  if (typeof record !== 'object' || record === null) return false;
  const fields = record as Record<string, unknown>;
  if (Array.isArray(fields.frame)) {
    const [id, depth, fn] = fields.frame as unknown[];
    if (typeof id !== 'number' || typeof depth !== 'number' || typeof fn !== 'string') return false;
    frames.set(id, { depth, function: fn });
    return true;
  }
  if (isObject(fields.start)) {
    result.tracerVersion = stringOrNull(fields.start.tracer);
    result.pythonVersion = stringOrNull(fields.start.python);
    return true;
  }
  if (typeof fields.truncated === 'string') {
    result.truncation = fields.truncated === 'trace-bytes' ? 'trace-bytes' : 'tracer-error';
    return true;
  }
  if (isObject(fields.end)) {
    const end = toEnd(fields.end);
    if (end === null) return false;
    result.end = end;
    return true;
  }
  return false;
}

/** `[index, line, frame id, changes]`: a line step of a declared frame that printed nothing. */
function toShortStep(record: unknown[], frames: Frames): Step | null {
  const [index, line, frameId, changes] = record;
  const frame = typeof frameId === 'number' ? frames.get(frameId) : undefined;
  if (frame === undefined) return null;
  return toStep([index, 'line', line, frame.depth, frame.function, changes, null, null, '']);
}

function toStep(record: unknown[]): Step | null {
  const [index, event, line, depth, fn, changes, value, exception, stdout] = record;
  if (
    typeof index !== 'number' || typeof event !== 'string' || !EVENTS.has(event) || typeof line !== 'number' ||
    typeof depth !== 'number' || typeof fn !== 'string' || !Array.isArray(changes) ||
    (value !== null && typeof value !== 'string') || typeof stdout !== 'string'
  ) {
    return null;
  }
  const parsedChanges: VariableChange[] = [];
  for (const change of changes) {
    if (!Array.isArray(change)) return null;
    const [name, kind, text] = change as unknown[];
    const changeKind = typeof kind === 'string' ? KINDS[kind] : undefined;
    if (typeof name !== 'string' || changeKind === undefined || (text !== null && typeof text !== 'string')) return null;
    parsedChanges.push({ name, kind: changeKind, value: text });
  }
  const parsedException = exception === null ? null : toException(exception);
  if (exception !== null && parsedException === null) return null;
  return {
    index, event: event as StepEvent, line, depth, function: fn, changes: parsedChanges,
    value, exception: parsedException, stdout,
  };
}

function toException(value: unknown): ExceptionInfo | null {
  if (!Array.isArray(value) || typeof value[0] !== 'string' || typeof value[1] !== 'string') return null;
  return { type: value[0], message: value[1] };
}

function toEnd(fields: Record<string, unknown>): ChildEnd | null {
  const { status, exception, exit_code: exitCode, step_count: stepCount, tracer_error: tracerError } = fields;
  if (typeof status !== 'string' || !END_STATUSES.has(status) || typeof exitCode !== 'number' || typeof stepCount !== 'number') {
    return null;
  }
  return {
    status: status as ChildEnd['status'],
    exception: exception == null ? null : toException(exception),
    exitCode,
    stepCount,
    tracerError: typeof tracerError === 'string' ? tracerError : null,
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
