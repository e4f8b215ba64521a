import type { Execution } from '../runs/index.js';
import { layoutSteps } from './layout.js';
import type { ExceptionInfo, Step, VariableChange } from '../runs/index.js';

export interface SnoopOptions {
  /** The program's source; without it each executed line shows as `line N`. */
  source?: string;
  /** Shown in `>>> Call to` lines, as snoop shows the file; defaults to `main.py`. */
  filename?: string;
}

/**
 * Renders a trace as snoop prints it (without timestamps, so the same trace always gives the same
 * text): each executed source line with its number, indented by call depth, followed by what it
 * changed; calls, returns and exceptions as `>>>`, `<<<` and `!!!` lines; what the program printed
 * as `out| ` lines where it was printed; and a last `===` line with the outcome and why.
 *
 * A line that calls traced code shows its changes after the call's steps, where snoop shows them.
 *
 * @example
 * renderSnoop(execution, { source: 'x = 6 * 7\nprint(x)\n' })
 * // '   1 | x = 6 * 7\n...... x = 42\n   2 | print(x)\nout| 42\n=== ok: ran to completion\n'
 */
export function renderSnoop(execution: Execution, options: SnoopOptions = {}): string {
  const sourceLines = options.source === undefined ? null : options.source.split('\n');
  const filename = options.filename ?? 'main.py';
  const out: string[] = [];

  const sourceText = (line: number): string | null => sourceLines?.[line - 1] ?? null;
  const emit = (step: Step, lines: readonly string[]): void => {
    const indent = '    '.repeat(Math.max(0, step.depth));
    for (const line of lines) out.push(indent + line);
  };
  const sourceLine = (step: Step): string => {
    const text = sourceText(step.line);
    return text === null ? `line ${step.line}` : `${String(step.line).padStart(4)} | ${text}`;
  };
  const changes = (step: Step, hideRestatements: boolean): string[] => {
    const text = sourceText(step.line);
    const dots = '......' + leadingDots(text ?? '');
    return step.changes
      // As snoop does, `x = 1` is not repeated under a source line that says exactly that.
      .filter((change) => !(hideRestatements && text !== null && restates(change, text)))
      .flatMap((change) => formatChange(dots, change));
  };

  for (const item of layoutSteps(execution.steps)) {
    const { step } = item;
    if (item.kind === 'finish') {
      emit(step, [...outputLines(step.stdout), ...changes(step, true)]);
      continue;
    }
    switch (step.event) {
      case 'call':
        emit(step, [
          `>>> Call to ${step.function} in File "${filename}", line ${step.line}`,
          ...changes(step, false),
          sourceLine(step),
          ...outputLines(step.stdout),
        ]);
        break;
      case 'line':
        emit(step, item.deferred
          ? [sourceLine(step)]
          : [sourceLine(step), ...outputLines(step.stdout), ...changes(step, true)]);
        break;
      case 'return':
        emit(step, [...changes(step, false), ...outputLines(step.stdout), ...returnLines(step)]);
        break;
      case 'exception':
        emit(step, [
          ...changes(step, false),
          ...outputLines(step.stdout),
          ...(step.exception === null ? [] : prefixEach('!!! ', formatException(step.exception))),
        ]);
        break;
    }
  }
  out.push(...outputLines(untracedOutput(execution)));
  out.push(...outcomeLines(execution));
  return out.join('\n') + '\n';
}

/**
 * What the program printed that no step shows: all of it when the run was not traced, the part
 * after the cut when its trace was truncated.
 */
function untracedOutput(execution: Execution): string {
  const shown = execution.steps.map((step) => step.stdout).join('');
  return execution.stdout.startsWith(shown) ? execution.stdout.slice(shown.length) : '';
}

function formatChange(dots: string, change: VariableChange): string[] {
  if (change.kind === 'deleted') return [`${dots} del ${change.name}`];
  return hangingIndent(`${dots} ${change.name} = `, change.value ?? '<no value>');
}

function restates(change: VariableChange, sourceText: string): boolean {
  return change.kind !== 'deleted' && `${change.name} = ${change.value}` === sourceText.trim();
}

function returnLines(step: Step): string[] {
  if (step.exception !== null) return ['!!! Call ended by exception'];
  if (step.value === null) return [`<<< Return from ${step.function}`];
  return hangingIndent(`<<< Return value from ${step.function}: `, step.value);
}

function formatException(exception: ExceptionInfo): string {
  return exception.message === '' ? exception.type : `${exception.type}: ${exception.message}`;
}

function outcomeLines(execution: Execution): string[] {
  let head = `=== ${execution.outcome}`;
  if (execution.traceTruncated) {
    head += execution.stepCount > execution.steps.length
      ? ` (trace truncated: ${execution.steps.length} of ${execution.stepCount} steps shown)`
      : ' (trace truncated)';
  }
  return execution.reason === '' ? [head] : hangingIndent(`${head}: `, execution.reason);
}

/** Printed text as `out| ` lines; a final newline ends the last line rather than adding an empty one. */
function outputLines(stdout: string): string[] {
  if (stdout === '') return [];
  const lines = stdout.split('\n');
  if (stdout.endsWith('\n')) lines.pop();
  return prefixEach('out| ', lines.join('\n'));
}

function prefixEach(prefix: string, text: string): string[] {
  return text.split('\n').map((line) => prefix + line);
}

/** Continuation lines of a multi-line value start under its first character, as snoop aligns them. */
function hangingIndent(prefix: string, text: string): string[] {
  const [first, ...rest] = text.split('\n');
  const pad = ' '.repeat(prefix.length);
  return [prefix + (first ?? ''), ...rest.map((line) => pad + line)];
}

/** snoop marks the source line's own indentation with dots so changes line up under it. */
function leadingDots(sourceText: string): string {
  const indent = /^[ \t]*/.exec(sourceText)?.[0] ?? '';
  return indent.replaceAll(' ', '.').replaceAll('\t', '....');
}
