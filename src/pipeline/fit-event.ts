import { z } from 'zod';
import type { DeadLetter, ExecutionTrace, LineDiff } from '../avro/index.js';
import { TracestreamError } from '../errors/index.js';
import type { ExceptionInfo, Step } from '../runs/index.js';

/**
 * The largest record the trace topology's topics take (their `max.message.bytes`, and the producer's
 * `message.max.bytes`): every event is cut to fit it by construction, never refused by the broker.
 */
export const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

export const eventBoundsSchema = z.object({
  /** Largest record (key, headers and value together), bytes: the topic's max.message.bytes. */
  maxMessageBytes: z.number().int().min(64 * 1024).default(MAX_MESSAGE_BYTES),
  /** Longest function, variable or exception type name kept in an event. */
  nameChars: z.number().int().positive().default(256),
  /** Longest repr or exception message kept (the tracer's own bounds are far below it). */
  valueChars: z.number().int().positive().default(4096),
  /** Longest source line a LineDiff carries. */
  sourceLineChars: z.number().int().positive().default(1000),
});

export type EventBoundsOptions = z.input<typeof eventBoundsSchema>;
export type EventBounds = z.output<typeof eventBoundsSchema>;

// Room for a record's own framing (lengths, timestamps, batch header) beside key, headers and value.
const RECORD_OVERHEAD_BYTES = 16 * 1024;
// Every int/long/enum/union index of a trace's fixed fields, at their widest varint.
const FIXED_NUMBERS_BYTES = 256;

/** The bytes an Avro string takes at most: its length (a varint, at most 5 bytes) and its UTF-8. */
const stringBytes = (text: string): number => 5 + Buffer.byteLength(text);
/** A cheap upper bound of stringBytes: no UTF-8 character takes more than 3 bytes per UTF-16 unit. */
const stringBytesAtMost = (text: string): number => 5 + 3 * text.length;

/** `text` cut to `chars`, with the marker the tracer uses for its own cuts. */
export function cutText(text: string, chars: number): string {
  return text.length <= chars ? text : `${text.slice(0, chars)}…(${text.length} chars)`;
}

/** Bytes a record's key and headers take. */
export function keyAndHeaderBytes(key: Buffer | string | null, headers: Readonly<Record<string, Buffer | string>> | undefined): number {
  let bytes = key === null ? 0 : Buffer.byteLength(key);
  for (const [name, value] of Object.entries(headers ?? {})) bytes += Buffer.byteLength(name) + Buffer.byteLength(value) + 16;
  return bytes;
}

function stepBytes(step: Step, bytesOf: (text: string) => number): number {
  let bytes = 40 + bytesOf(step.function) + bytesOf(step.stdout) + (step.value === null ? 0 : bytesOf(step.value));
  if (step.exception !== null) bytes += bytesOf(step.exception.type) + bytesOf(step.exception.message);
  for (const change of step.changes) bytes += 12 + bytesOf(change.name) + (change.value === null ? 0 : bytesOf(change.value));
  return bytes;
}

function fixedBytes(trace: ExecutionTrace): number {
  let bytes = FIXED_NUMBERS_BYTES;
  for (const text of [trace.runId, trace.solutionId, trace.problemId, trace.contentHash, trace.tracerVersion, trace.pythonVersion,
    trace.signal ?? '', trace.reason, trace.stdout, trace.stderrTail, trace.outputFile ?? '', trace.source ?? '', trace.stdin, ...trace.cut]) {
    bytes += stringBytes(text);
  }
  for (const [name, value] of Object.entries(trace.origin)) bytes += stringBytes(name) + stringBytes(value);
  if (trace.exception !== null) bytes += stringBytes(trace.exception.type) + stringBytes(trace.exception.message);
  return bytes;
}

/**
 * The trace cut to fit one record of `bounds.maxMessageBytes` with this key and these headers, and
 * to leave room for any of its LineDiffs (which add a source line). Names and values past their
 * bounds are cut with a marker, and so are the origin's values; if the run's texts (the program's
 * source and stdin, its stdout, the OUTPUT_PATH file, stderr, the reason) take over half the room,
 * each is cut to a twelfth; then steps are kept from the first while they fit. Everything cut is
 * named in `cut`. A trace whose identity alone (run id, solution id, problem id, from the input)
 * cannot fit is EVENT_TOO_LARGE: the input's fault.
 */
export function fitTrace(trace: ExecutionTrace, bounds: EventBounds, keyAndHeadersBytes: number): ExecutionTrace {
  const budget = bounds.maxMessageBytes - RECORD_OVERHEAD_BYTES - keyAndHeadersBytes - (5 + 3 * (bounds.sourceLineChars + 32));
  const cut = new Set(trace.cut);
  const fitted: ExecutionTrace = {
    ...trace, exception: boundException(trace.exception, bounds, cut), steps: boundSteps(trace.steps, bounds, cut), origin: boundOrigin(trace.origin, bounds, cut),
  };
  if (fixedBytes(fitted) > budget / 2) {
    // Six texts of at most a twelfth each (3 bytes a char at most): together at most half the room.
    const chars = Math.floor(budget / 12 / 3);
    for (const field of ['stdout', 'stderrTail', 'reason', 'stdin'] as const) {
      const text = cutText(fitted[field], chars);
      if (text !== fitted[field]) cut.add(field);
      fitted[field] = text;
    }
    for (const field of ['outputFile', 'source'] as const) {
      const text = fitted[field];
      if (text !== null && text.length > chars) {
        fitted[field] = cutText(text, chars);
        cut.add(field);
      }
    }
  }
  let room = budget - fixedBytes(fitted) - stringBytes('steps') * 8; // cut may still grow by a few names
  if (room < 0) {
    throw new TracestreamError('EVENT_TOO_LARGE', `the trace of ${trace.runId.slice(0, 200)} cannot fit ${bounds.maxMessageBytes} bytes even without steps (its run id, solution id or problem id is too long)`, {
      details: { runId: trace.runId.slice(0, 200), maxMessageBytes: bounds.maxMessageBytes },
    });
  }
  let cheap = 0;
  for (const step of fitted.steps) cheap += stepBytes(step, stringBytesAtMost);
  if (cheap > room) {
    let kept = 0;
    for (; kept < fitted.steps.length; kept++) {
      room -= stepBytes(fitted.steps[kept]!, stringBytes);
      if (room < 0) break;
    }
    if (kept < fitted.steps.length) {
      fitted.steps = fitted.steps.slice(0, kept);
      fitted.traceTruncated = true;
      cut.add('steps');
    }
  }
  fitted.cut = [...cut];
  return fitted;
}

/** The solution's provenance with each value cut to valueChars (names are the producer's keys, cut to nameChars). */
function boundOrigin(origin: Record<string, string>, bounds: EventBounds, cut: Set<string>): Record<string, string> {
  const entries = Object.entries(origin);
  if (entries.every(([name, value]) => name.length <= bounds.nameChars && value.length <= bounds.valueChars)) return origin;
  cut.add('origin');
  return Object.fromEntries(entries.map(([name, value]) => [cutText(name, bounds.nameChars), cutText(value, bounds.valueChars)]));
}

function boundException(exception: ExceptionInfo | null, bounds: EventBounds, cut: Set<string>): ExceptionInfo | null {
  if (exception === null) return null;
  const type = cutText(exception.type, bounds.nameChars);
  const message = cutText(exception.message, bounds.valueChars);
  if (type !== exception.type) cut.add('names');
  if (message !== exception.message) cut.add('values');
  return type === exception.type && message === exception.message ? exception : { type, message };
}

/** Steps with names and values within bounds; the same objects where nothing is cut (the usual case). */
function boundSteps(steps: Step[], bounds: EventBounds, cut: Set<string>): Step[] {
  const { nameChars, valueChars } = bounds;
  let result: Step[] | undefined;
  for (let at = 0; at < steps.length; at++) {
    const step = steps[at]!;
    let oversized = step.function.length > nameChars || (step.value !== null && step.value.length > valueChars)
      || step.stdout.length > valueChars * 16 || (step.exception !== null && (step.exception.type.length > nameChars || step.exception.message.length > valueChars));
    for (const change of step.changes) {
      if (change.name.length > nameChars || (change.value !== null && change.value.length > valueChars)) oversized = true;
    }
    if (!oversized) {
      result?.push(step);
      continue;
    }
    result ??= steps.slice(0, at);
    const fn = cutText(step.function, nameChars);
    if (fn !== step.function) cut.add('names');
    const value = step.value === null ? null : cutText(step.value, valueChars);
    if (value !== step.value) cut.add('values');
    const stdout = cutText(step.stdout, valueChars * 16);
    if (stdout !== step.stdout) cut.add('stdout');
    result.push({
      ...step,
      function: fn,
      value,
      stdout,
      exception: boundException(step.exception, bounds, cut),
      changes: step.changes.map((change) => {
        const name = cutText(change.name, nameChars);
        const changed = change.value === null ? null : cutText(change.value, valueChars);
        if (name !== change.name) cut.add('names');
        if (changed !== change.value) cut.add('values');
        return name === change.name && changed === change.value ? change : { ...change, name, value: changed };
      }),
    });
  }
  return result ?? steps;
}

/**
 * A dead letter cut to fit one record: the reason to valueChars; then, while too large, the original
 * headers are dropped, the value kept only as far as it fits, and the key likewise. What was left
 * out is named in `cut`. Returns the letter and the outgoing record's key (the letter's own key).
 */
export function fitDeadLetter(letter: DeadLetter, bounds: EventBounds, outgoingHeaderBytes: (letter: DeadLetter) => number): DeadLetter {
  const cut = new Set(letter.cut);
  const fitted: DeadLetter = { ...letter, reason: cutText(letter.reason, bounds.valueChars) };
  if (fitted.reason !== letter.reason) cut.add('reason');
  const budget = bounds.maxMessageBytes - RECORD_OVERHEAD_BYTES;
  const size = (): number => {
    let bytes = FIXED_NUMBERS_BYTES + stringBytes(fitted.reason) + stringBytes(fitted.sourceTopic) + stringBytes(fitted.sourceOffset)
      + stringBytes(fitted.errorCode ?? '') + 2 * (fitted.key?.length ?? 0) + (fitted.value?.length ?? 0) + outgoingHeaderBytes(fitted) + 64;
    for (const [name, value] of Object.entries(fitted.headers)) bytes += stringBytes(name) + value.length + 5;
    return bytes;
  };
  if (size() > budget && Object.keys(fitted.headers).length > 0) {
    fitted.headers = {};
    cut.add('headers');
  }
  if (size() > budget && fitted.value !== null) {
    const over = size() - budget;
    fitted.value = fitted.value.subarray(0, Math.max(0, fitted.value.length - over));
    cut.add('value');
  }
  if (size() > budget && fitted.key !== null) {
    const over = size() - budget;
    fitted.key = fitted.key.subarray(0, Math.max(0, fitted.key.length - Math.ceil(over / 2)));
    cut.add('key');
  }
  fitted.cut = [...cut];
  return fitted;
}
