/**
 * The tokens of the compact format (see compact.ts for the grammar): how names, values, changes,
 * exceptions and stdout are written raw or `$`-escaped, and read back.
 */
import type { ChangeKind, ExceptionInfo, VariableChange } from '../runs/index.js';

const FIELD_SIGILS = '+-=!|^@#$';
// With the `u` flag a surrogate pair is one code point, so only lone surrogates match the range.
const UNSAFE_CHAR = /[\u0000-\u001f\u007f\ud800-\udfff]/u;

export function encodeChange(change: VariableChange): string {
  const prefix = change.kind === 'new' ? '+' : change.kind === 'deleted' ? '-' : '';
  const value = change.value === null ? '' : '=' + encodeValue(change.value);
  return prefix + encodeName(change.name) + value;
}

export function decodeChange(field: string): VariableChange {
  const kind: ChangeKind = field.startsWith('+') ? 'new' : field.startsWith('-') ? 'deleted' : 'modified';
  const { name, rest } = decodeLeadingName(kind === 'modified' ? field : field.slice(1), '=');
  if (rest === '') return { name, kind, value: null };
  if (!rest.startsWith('=')) throw new Error(`unexpected ${JSON.stringify(rest)} after variable ${JSON.stringify(name)}`);
  return { name, kind, value: decodeValue(rest.slice(1)) };
}

export function encodeException(exception: ExceptionInfo): string {
  const type = exception.type === '' || exception.type.startsWith('$') || exception.type.includes(':') || UNSAFE_CHAR.test(exception.type)
    ? '$' + JSON.stringify(exception.type)
    : exception.type;
  return exception.message === '' ? type : `${type}: ${encodeValue(exception.message)}`;
}

export function decodeException(body: string): ExceptionInfo {
  const { name: type, rest } = decodeLeadingName(body, ':');
  if (rest === '') return { type, message: '' };
  if (!rest.startsWith(': ')) throw new Error(`expected ": " after exception type ${JSON.stringify(type)}`);
  return { type, message: decodeValue(rest.slice(2)) };
}

export function encodeName(name: string): string {
  const plain = name !== '' && !FIELD_SIGILS.includes(name[0]!) && !name.includes('=') && !UNSAFE_CHAR.test(name);
  return plain ? name : '$' + JSON.stringify(name);
}

export function decodeWholeName(field: string): string {
  const { name, rest } = decodeLeadingName(field, null);
  if (rest !== '') throw new Error(`unexpected ${JSON.stringify(rest)} after name ${JSON.stringify(name)}`);
  return name;
}

/** Reads a raw or `$`-escaped name at the start of `text`; a raw one ends at `stop` (or the end). */
function decodeLeadingName(text: string, stop: string | null): { name: string; rest: string } {
  if (text.startsWith('$')) {
    const end = jsonStringEnd(text, 1);
    return { name: decodeJsonString(text.slice(1, end)), rest: text.slice(end) };
  }
  const at = stop === null ? -1 : text.indexOf(stop);
  const name = at < 0 ? text : text.slice(0, at);
  if (name === '') throw new Error('empty name');
  return { name, rest: at < 0 ? '' : text.slice(at) };
}

export function encodeValue(value: string): string {
  return value.startsWith('$') || UNSAFE_CHAR.test(value) ? '$' + JSON.stringify(value) : value;
}

export function decodeValue(text: string): string {
  return text.startsWith('$') ? decodeJsonString(text.slice(1)) : text;
}

export function encodeStdout(stdout: string): string {
  return '|' + JSON.stringify(stdout);
}

/** Index just past the closing quote of the JSON string that opens at `start`. */
function jsonStringEnd(text: string, start: number): number {
  if (text[start] !== '"') throw new Error(`expected a JSON string at ${JSON.stringify(text)}`);
  for (let i = start + 1; i < text.length; i += 1) {
    if (text[i] === '\\') i += 1;
    else if (text[i] === '"') return i + 1;
  }
  throw new Error(`unterminated JSON string ${JSON.stringify(text)}`);
}

export function decodeJsonString(text: string): string {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'string') throw new Error(`expected a JSON string, got ${JSON.stringify(text)}`);
  return value;
}

export function decodeInteger(text: string): number {
  if (!/^-?\d+$/.test(text)) throw new Error(`expected an integer, got ${JSON.stringify(text)}`);
  return Number(text);
}
