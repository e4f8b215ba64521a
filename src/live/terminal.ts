import type { ExecutionTrace, LineDiff } from '../avro/index.js';
import { outcomeFromAvro } from '../avro/index.js';
import { renderSnoop } from '../render/index.js';
import { executionOf } from '../pipeline/index.js';

/**
 * Colour for a person at a terminal only: not when the output is a file or a pipe, not with
 * NO_COLOR set (no-color.org), not on a dumb terminal.
 */
export function wantsColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && (env['NO_COLOR'] ?? '') === '' && env['TERM'] !== 'dumb';
}

const ANSI = { reset: '\x1b[0m', bold: '\x1b[1m', dim: '\x1b[2m', red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', magenta: '\x1b[35m', cyan: '\x1b[36m' } as const;
type Style = Exclude<keyof typeof ANSI, 'reset'>;

/** Paints text, or leaves it as it is when colour is off. */
export type Paint = (text: string, ...styles: Style[]) => string;

export function painter(colour: boolean): Paint {
  if (!colour) return (text) => text;
  return (text, ...styles) => (styles.length === 0 ? text : `${styles.map((s) => ANSI[s]).join('')}${text}${ANSI.reset}`);
}

/**
 * A program's output and reprs may hold terminal escape sequences (clear screen, set title); they
 * are shown as visible escapes so a traced program cannot drive the terminal of whoever watches.
 */
function visibleControls(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f\x9b]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** One run: a header with what it was and how it ended, then its steps as snoop prints them. */
export function renderTraceForTerminal(trace: ExecutionTrace, paint: Paint, source?: string): string {
  const outcome = outcomeFromAvro(trace.outcome);
  const head = `── ${trace.runId} · problem ${trace.problemId} · ${outcome} · ${trace.stepCount} steps · ${trace.wallTimeMs} ms ──`;
  const body = renderSnoop(executionOf(trace), source === undefined ? {} : { source });
  const lines = visibleControls(body).split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return [paint(head, 'bold', outcome === 'ok' ? 'green' : 'red'), ...lines.map((line) => paintSnoopLine(line, paint))].join('\n') + '\n';
}

function paintSnoopLine(line: string, paint: Paint): string {
  const source = /^(\s*)(\d+) \| (.*)$/.exec(line);
  if (source !== null) return `${source[1]}${paint(source[2]!, 'cyan')} ${paint('|', 'dim')} ${source[3]}`;
  const trimmed = line.trimStart();
  if (trimmed.startsWith('line ')) return paint(line, 'cyan');
  if (trimmed.startsWith('......')) return paint(line, trimmed.includes(' del ') ? 'red' : 'green');
  if (trimmed.startsWith('out| ')) return paint(line, 'dim');
  if (trimmed.startsWith('!!!')) return paint(line, 'red');
  if (trimmed.startsWith('>>>') || trimmed.startsWith('<<<')) return paint(line, 'magenta');
  if (trimmed.startsWith('===')) return paint(line, 'bold', line.startsWith('=== ok') ? 'green' : 'red');
  return line;
}

/**
 * One step of a run as it streams in, snoop style: its source line indented by call depth, then what
 * it changed (new in green, modified in yellow, deleted in red), what it printed, and calls, returns
 * and exceptions. A header line starts each run.
 */
export function renderDiffForTerminal(diff: LineDiff, paint: Paint, previousRunId: string | undefined): string {
  const out: string[] = [];
  if (diff.runId !== previousRunId) out.push(paint(`── ${diff.runId} · solution ${diff.solutionId} · ${diff.stepCount} steps ──`, 'bold'));
  const indent = '    '.repeat(Math.max(0, diff.depth));
  const text = (value: string): string => visibleControls(value);
  if (diff.event === 'call') out.push(indent + paint(`>>> Call to ${diff.function}, line ${diff.line}`, 'magenta'));
  out.push(`${indent}${paint(String(diff.line).padStart(4), 'cyan')} ${paint('|', 'dim')} ${text(diff.sourceLine)}`);
  for (const change of diff.changes) {
    if (change.kind === 'deleted') out.push(indent + paint(`...... del ${change.name}`, 'red'));
    else out.push(indent + paint(`...... ${change.name} = ${text(change.value ?? '')}`, change.kind === 'new' ? 'green' : 'yellow'));
  }
  if (diff.stdout !== '') {
    for (const line of diff.stdout.replace(/\n$/, '').split('\n')) out.push(indent + paint(`out| ${text(line)}`, 'dim'));
  }
  if (diff.exception !== null) out.push(indent + paint(`!!! ${diff.exception.type}${diff.exception.message === '' ? '' : `: ${text(diff.exception.message)}`}`, 'red'));
  if (diff.event === 'return' && diff.exception === null) out.push(indent + paint(`<<< Return value from ${diff.function}: ${text(diff.value ?? 'None')}`, 'magenta'));
  return out.join('\n') + '\n';
}
