/**
 * The compact trace format: a short, stable text of one run for language models, from which every
 * step can be recovered exactly (`parseCompact(renderCompact(x)).steps` deep-equals `x.steps`).
 * docs/compact-format.md has the rationale and a worked example.
 *
 * Grammar (one record per text line, `\n` ends every line, `⇥` is one TAB):
 *
 *   trace    = [header] { record } footer
 *   header   = "src " N "\n" N × (lineNo [" " sourceText] "\n")    source lines 1..N, once
 *   record   = step | finish
 *   step     = sigil line [⇥ function] { ⇥ field } "\n"
 *   sigil    = "" (line) | ">" (call) | "<" (return) | "!" (exception)
 *   function = name                                 call records only: the callee
 *   finish   = "." line { ⇥ ("^" depth | change | stdout) } "\n"
 *   field    = "#" index | "^" depth | "@" name | change | "=" value | "!" exception | stdout
 *   change   = "+" name ["=" value]                  new variable
 *            | "-" name ["=" value]                  deleted variable (value normally absent)
 *            | name ["=" value]                      modified variable
 *                                                    (no "=": the value is null)
 *   exception= type [": " value]                     no ": " when the message is empty
 *            | ""                                    the same as the previous exception written
 *   stdout   = "|" jsonString                        what the step printed
 *   footer   = "end " outcome { ⇥ ("!" exception | "truncated" | "steps=" N | "reason=" value) } "\n"
 *
 * Tokens: a `value` is written raw unless it starts with `$` or holds a control character (TAB,
 * newline, CR, …) or a lone surrogate; then it is `$` + its JSON string. A `name` (variable,
 * function) is raw unless it is empty, starts with one of `+-=!|^@#$`, or holds `=` or a control
 * character; a `type` is raw unless it is empty, starts with `$`, or holds `:` or a control
 * character; otherwise both are `$` + JSON string. Escaped tokens hold no TAB, so fields split on TAB.
 *
 * Implied state, so that the common case costs nothing:
 * - `index` is the previous step's index + 1 (the first is 0); `#` says otherwise.
 * - Depth and function follow a frame stack that starts as `<module>` at depth 0: a call enters a
 *   frame one deeper than the current one, other steps stay in the current frame, a return leaves
 *   it. `^` and `@` say otherwise (a call from untraced code, a cut trace), and the stack follows.
 * - A `line` step followed by a deeper step (it called traced code) keeps its changes and stdout
 *   for a later `finish` record, written once the next step at its depth or shallower begins, so
 *   a call's result is never shown before the call runs. A finish applies to the innermost line
 *   still waiting (`^` names another depth); lines that changed and printed nothing get none.
 */
import type { Execution, Outcome } from '../runs/index.js';
import { OUTCOMES } from '../runs/index.js';
import { TracestreamError } from '../errors/index.js';
import { layoutSteps } from './layout.js';
import { encodeChange, decodeChange, encodeException, decodeException, encodeName, decodeWholeName, encodeValue, decodeValue, encodeStdout, decodeJsonString, decodeInteger } from './compact-tokens.js';
import type { ExceptionInfo, Step, StepEvent, VariableChange } from '../runs/index.js';

/** What `parseCompact` recovers from a compact trace. */
export interface CompactTrace {
  /** The header's source lines (without line ends), or null when rendered without source. */
  sourceLines: string[] | null;
  steps: Step[];
  outcome: Outcome;
  reason: string;
  /** The run's uncaught exception, if any. */
  exception: ExceptionInfo | null;
  traceTruncated: boolean;
  stepCount: number;
}

export interface CompactOptions {
  /** The program's source, written once as a numbered header; steps refer to it by line number. */
  source?: string;
}

const EVENT_SIGIL: Record<StepEvent, string> = { line: '', call: '>', return: '<', exception: '!' };
const SIGIL_EVENT: Record<string, StepEvent> = { '': 'line', '>': 'call', '<': 'return', '!': 'exception' };

/**
 * Renders a run in the compact format (see the grammar above). Timings, versions and the run id
 * are left out, so the same steps and outcome always give the same bytes.
 *
 * @example
 * renderCompact(execution, { source: 'x = 6 * 7\nprint(x)\n' })
 * // 'src 2\n1 x = 6 * 7\n2 print(x)\n1\t+x=42\n2\t|"42\\n"\nend ok\treason=ran to completion\n'
 */
export function renderCompact(execution: Execution, options: CompactOptions = {}): string {
  const out: string[] = [];
  if (options.source !== undefined) {
    const lines = splitSource(options.source);
    out.push(`src ${lines.length}`);
    lines.forEach((text, i) => out.push(text === '' ? String(i + 1) : `${i + 1} ${text}`));
  }

  const frames = new FrameStack();
  let expectedIndex = 0;
  let lastException: ExceptionInfo | null = null;
  // An exception usually leaves every frame it unwinds, each with the same type and message.
  const exceptionField = (exception: ExceptionInfo): string => {
    const repeated = lastException !== null && lastException.type === exception.type && lastException.message === exception.message;
    lastException = exception;
    return repeated ? '!' : '!' + encodeException(exception);
  };
  // Depths of the deferred lines the parser is holding open, innermost last.
  const open: number[] = [];
  for (const item of layoutSteps(execution.steps)) {
    const { step } = item;
    if (item.kind === 'finish') {
      if (step.changes.length === 0 && step.stdout === '') continue;
      const fields = [`.${step.line}`];
      if (open[open.length - 1] !== step.depth) fields.push(`^${step.depth}`);
      while (open.length > 0 && open[open.length - 1]! > step.depth) open.pop();
      open.pop();
      fields.push(...step.changes.map(encodeChange));
      if (step.stdout !== '') fields.push(encodeStdout(step.stdout));
      out.push(fields.join('\t'));
      continue;
    }

    while (open.length > 0 && open[open.length - 1]! >= step.depth) open.pop();
    if (item.deferred) open.push(step.depth);

    const fields = [EVENT_SIGIL[step.event] + step.line];
    if (step.event === 'call') fields.push(encodeName(step.function));
    if (step.index !== expectedIndex) fields.push(`#${step.index}`);
    expectedIndex = step.index + 1;
    const expected = frames.expected(step.event);
    if (step.depth !== expected.depth) fields.push(`^${step.depth}`);
    if (step.event !== 'call' && step.function !== expected.function) fields.push('@' + encodeName(step.function));
    frames.enter(step.event, step.depth, step.function);

    if (!item.deferred) fields.push(...step.changes.map(encodeChange));
    if (step.value !== null) fields.push('=' + encodeValue(step.value));
    if (step.exception !== null) fields.push(exceptionField(step.exception));
    if (!item.deferred && step.stdout !== '') fields.push(encodeStdout(step.stdout));
    out.push(fields.join('\t'));
  }

  const footer = [`end ${execution.outcome}`];
  if (execution.exception !== null) footer.push(exceptionField(execution.exception));
  if (execution.traceTruncated) footer.push('truncated');
  if (execution.stepCount !== execution.steps.length) footer.push(`steps=${execution.stepCount}`);
  if (execution.reason !== '') footer.push('reason=' + encodeValue(execution.reason));
  out.push(footer.join('\t'));
  return out.join('\n') + '\n';
}

/**
 * Recovers the steps, outcome and source lines from a compact trace. Throws a `TracestreamError`
 * with code `DECODE_FAILED` (details: the 1-based text line) on anything the grammar does not allow.
 *
 * @example
 * parseCompact(renderCompact(execution)).steps // deep-equals execution.steps
 */
export function parseCompact(text: string): CompactTrace {
  const lines = text.split('\n');
  let lineNo = 0;
  const fail = (message: string): never => {
    throw new TracestreamError('DECODE_FAILED', `compact trace, line ${lineNo}: ${message}`, {
      details: { line: lineNo },
    });
  };
  const decode = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      if (error instanceof TracestreamError) throw error;
      return fail(error instanceof Error ? error.message : String(error));
    }
  };

  let sourceLines: string[] | null = null;
  const header = /^src (\d+)$/.exec(lines[0] ?? '');
  if (header) {
    lineNo = 1;
    const count = Number(header[1]);
    sourceLines = [];
    for (let n = 1; n <= count; n += 1) {
      lineNo += 1;
      const raw = lines[lineNo - 1];
      if (raw === undefined) fail(`the header promises ${count} source lines, the text ends first`);
      const numbered = raw!.startsWith(`${n} `) ? raw!.slice(String(n).length + 1) : raw === String(n) ? '' : null;
      if (numbered === null) fail(`expected source line ${n}`);
      sourceLines.push(numbered!);
    }
  }

  const steps: Step[] = [];
  const context: FieldContext = { lastException: null };
  const frames = new FrameStack();
  const open: Step[] = [];
  let expectedIndex = 0;
  let previous: Step | null = null;

  while (lineNo < lines.length) {
    lineNo += 1;
    if (lineNo === lines.length && lines[lineNo - 1] === '') break;
    const fields = lines[lineNo - 1]!.split('\t');
    const head = fields[0]!;

    if (head.startsWith('end ')) {
      const result = decode(() => parseFooter(head.slice(4), fields.slice(1), steps, sourceLines, context));
      if (lineNo !== lines.length - 1 || lines[lineNo] !== '') fail('text continues after the end record');
      return result;
    }

    const match = /^([.><!]?)(\d+)$/.exec(head);
    if (!match) fail(`unknown record ${JSON.stringify(head)}`);
    const sigil = match![1]!;
    const line = Number(match![2]);

    if (sigil === '.') {
      const finish = decode(() => parseFields(fields.slice(1), context));
      if (finish.index !== undefined || finish.function !== undefined || finish.value !== undefined || finish.exception !== undefined) {
        fail('a finish record holds only changes, stdout and a depth');
      }
      const target = finish.depth ?? open[open.length - 1]?.depth;
      while (open.length > 0 && open[open.length - 1]!.depth > target!) open.pop();
      const waiting = open.pop();
      if (waiting === undefined || waiting.depth !== target) fail('no line is waiting to finish at this depth');
      if (waiting!.line !== line) fail(`the waiting line is ${waiting!.line}, not ${line}`);
      waiting!.changes = finish.changes;
      waiting!.stdout = finish.stdout ?? '';
      continue;
    }

    const event = SIGIL_EVENT[sigil]!;
    let calleeName: string | undefined;
    let rest = fields.slice(1);
    if (event === 'call') {
      if (rest[0] === undefined) fail('a call record names its function');
      calleeName = decode(() => decodeWholeName(rest[0]!));
      rest = rest.slice(1);
    }
    const parsed = decode(() => parseFields(rest, context));
    if (event === 'call' && parsed.function !== undefined) fail('a call record names its function once');

    const expected = frames.expected(event);
    const step: Step = {
      index: parsed.index ?? expectedIndex,
      event,
      line,
      depth: parsed.depth ?? expected.depth,
      function: calleeName ?? parsed.function ?? expected.function,
      changes: parsed.changes,
      value: parsed.value ?? null,
      exception: parsed.exception ?? null,
      stdout: parsed.stdout ?? '',
    };
    frames.enter(step.event, step.depth, step.function);
    expectedIndex = step.index + 1;

    while (open.length > 0 && open[open.length - 1]!.depth >= step.depth) open.pop();
    if (previous !== null && previous.event === 'line' && step.depth > previous.depth) {
      if (previous.changes.length > 0 || previous.stdout !== '') {
        fail('a line that calls traced code shows its changes in a later finish record');
      }
      open.push(previous);
    }
    steps.push(step);
    previous = step;
  }
  return fail('missing end record');
}

interface ParsedFields {
  index?: number;
  depth?: number;
  function?: string;
  changes: VariableChange[];
  value?: string;
  exception?: ExceptionInfo;
  stdout?: string;
}

/** What earlier records tell the fields of later ones. */
interface FieldContext {
  lastException: ExceptionInfo | null;
}

function decodeExceptionField(body: string, context: FieldContext): ExceptionInfo {
  const exception = body === '' ? context.lastException : decodeException(body);
  if (exception === null) throw new Error('a bare "!" repeats the previous exception, and there is none');
  context.lastException = exception;
  return exception;
}

function parseFields(fields: readonly string[], context: FieldContext): ParsedFields {
  const parsed: ParsedFields = { changes: [] };
  const once = <K extends keyof ParsedFields>(key: K, value: ParsedFields[K]): void => {
    if (parsed[key] !== undefined) throw new Error(`field ${key} given twice`);
    parsed[key] = value;
  };
  for (const field of fields) {
    const body = field.slice(1);
    switch (field[0]) {
      case '#': once('index', decodeInteger(body)); break;
      case '^': once('depth', decodeInteger(body)); break;
      case '@': once('function', decodeWholeName(body)); break;
      case '=': once('value', decodeValue(body)); break;
      case '!': once('exception', decodeExceptionField(body, context)); break;
      case '|': once('stdout', decodeJsonString(body)); break;
      default: parsed.changes.push(decodeChange(field));
    }
  }
  return parsed;
}

function parseFooter(
  outcome: string, fields: readonly string[], steps: Step[], sourceLines: string[] | null, context: FieldContext,
): CompactTrace {
  if (!(OUTCOMES as readonly string[]).includes(outcome)) throw new Error(`unknown outcome ${JSON.stringify(outcome)}`);
  const result: CompactTrace = {
    sourceLines, steps, outcome: outcome as Outcome, reason: '', exception: null,
    traceTruncated: false, stepCount: steps.length,
  };
  for (const field of fields) {
    if (field.startsWith('!')) result.exception = decodeExceptionField(field.slice(1), context);
    else if (field === 'truncated') result.traceTruncated = true;
    else if (field.startsWith('steps=')) result.stepCount = decodeInteger(field.slice(6));
    else if (field.startsWith('reason=')) result.reason = decodeValue(field.slice(7));
    else throw new Error(`unknown end field ${JSON.stringify(field)}`);
  }
  return result;
}

/** Where the next step is expected to run when its record says nothing about depth or function. */
class FrameStack {
  private readonly frames: { depth: number; function: string }[] = [{ depth: 0, function: '<module>' }];

  expected(event: StepEvent): { depth: number; function: string } {
    const top = this.frames[this.frames.length - 1] ?? { depth: -1, function: '<module>' };
    return event === 'call' ? { depth: top.depth + 1, function: top.function } : top;
  }

  enter(event: StepEvent, depth: number, fn: string): void {
    if (event === 'call') {
      this.frames.push({ depth, function: fn });
      return;
    }
    while (this.frames.length > 0 && this.frames[this.frames.length - 1]!.depth > depth) this.frames.pop();
    const top = this.frames[this.frames.length - 1];
    if (top === undefined || top.depth !== depth) this.frames.push({ depth, function: fn });
    else if (top.function !== fn) this.frames[this.frames.length - 1] = { depth, function: fn };
    if (event === 'return') this.frames.pop();
  }
}

function splitSource(source: string): string[] {
  if (source === '') return [];
  const lines = source.split('\n');
  if (source.endsWith('\n')) lines.pop();
  return lines;
}
