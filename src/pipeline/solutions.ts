import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { SolutionSubmitted } from '../avro/index.js';
import { TracestreamError } from '../errors/index.js';
import { EVENT_SCHEMA_VERSION } from './events.js';

/**
 * Reads solutions from what users have at hand, as `SolutionSubmitted` events:
 * - a directory of `.py` files, each with an optional stdin beside it (`name.in`, `name.stdin` or
 *   `name.txt`), solution id = file name;
 * - a JSON-lines file (or stdin, `-`) of objects `{id, problem?, source, stdin? | inputs?,
 *   expected_stdout?, origin?}` — the corpus format — where `inputs` is `[{stdin, expected_stdout?}]`.
 * A malformed line is an error naming the line, before anything is sent.
 */
export async function* readSolutions(path: string, stdin: Readable = process.stdin): AsyncGenerator<SolutionSubmitted> {
  if (path === '-') {
    yield* readJsonLines(stdin, '<stdin>');
    return;
  }
  const info = await stat(path).catch((cause: unknown) => {
    throw new TracestreamError('INPUT_INVALID', `cannot read ${path}`, { cause });
  });
  if (info.isDirectory()) {
    yield* readDirectory(path);
  } else if (extname(path) === '.py') {
    yield await fromPythonFile(path);
  } else {
    yield* readJsonLines(createReadStream(path), path);
  }
}

async function* readDirectory(dir: string): AsyncGenerator<SolutionSubmitted> {
  const names = (await readdir(dir)).filter((name) => extname(name) === '.py').sort();
  for (const name of names) yield await fromPythonFile(join(dir, name));
}

async function fromPythonFile(path: string): Promise<SolutionSubmitted> {
  const source = await readFile(path, 'utf8');
  const stem = path.slice(0, -3);
  let stdin = '';
  for (const candidate of [`${stem}.in`, `${stem}.stdin`, `${stem}.txt`]) {
    const text = await readFile(candidate, 'utf8').catch(() => undefined);
    if (text !== undefined) {
      stdin = text;
      break;
    }
  }
  const id = basename(path);
  return solution({ solutionId: id, problemId: basename(id, '.py'), source, inputs: [{ stdin, expectedStdout: null }], origin: { path } });
}

async function* readJsonLines(input: Readable, label: string): AsyncGenerator<SolutionSubmitted> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    if (line.trim() === '') continue;
    yield fromJson(line, `${label}:${lineNumber}`);
  }
}

function fromJson(line: string, where: string): SolutionSubmitted {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (cause) {
    throw new TracestreamError('INPUT_INVALID', `${where}: not JSON`, { cause });
  }
  if (typeof value !== 'object' || value === null) throw new TracestreamError('INPUT_INVALID', `${where}: expected an object`);
  const fields = value as Record<string, unknown>;
  const id = fields.id ?? fields.solutionId;
  if (typeof id !== 'string' || id === '') throw new TracestreamError('INPUT_INVALID', `${where}: "id" must be a non-empty string`);
  if (typeof fields.source !== 'string') throw new TracestreamError('INPUT_INVALID', `${where}: "source" must be a string`);
  const inputs = Array.isArray(fields.inputs)
    ? fields.inputs.map((input, index) => toInput(input, `${where}: inputs[${index}]`))
    : [toInput(fields, where)];
  if (inputs.length === 0) throw new TracestreamError('INPUT_INVALID', `${where}: "inputs" is empty; a solution needs at least one input`);
  const problem = fields.problem ?? fields.problemId;
  return solution({
    solutionId: id,
    problemId: typeof problem === 'string' ? problem : '',
    source: fields.source,
    inputs,
    origin: toOrigin(fields.origin),
  });
}

function toInput(value: unknown, where: string): { stdin: string; expectedStdout: string | null } {
  const fields = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const stdin = fields.stdin ?? '';
  const expected = fields.expected_stdout ?? fields.expectedStdout ?? null;
  if (typeof stdin !== 'string') throw new TracestreamError('INPUT_INVALID', `${where}: "stdin" must be a string`);
  if (expected !== null && typeof expected !== 'string') throw new TracestreamError('INPUT_INVALID', `${where}: "expected_stdout" must be a string`);
  return { stdin, expectedStdout: expected };
}

function toOrigin(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

function solution(fields: Omit<SolutionSubmitted, 'schemaVersion' | 'language' | 'submittedAtMs'>): SolutionSubmitted {
  return { schemaVersion: EVENT_SCHEMA_VERSION, language: 'python3', submittedAtMs: Date.now(), ...fields };
}
