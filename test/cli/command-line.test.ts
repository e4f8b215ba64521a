import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import { COMMANDS } from '../../src/cli/commands/index.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
let dir: string;
let program: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tracestream-cli-'));
  program = join(dir, 'one.py');
  await writeFile(program, 'x = 1\nprint(x)\n');
});

after(() => rm(dir, { recursive: true, force: true }));

const tracestream = (...args: string[]) => execa(process.execPath, [MAIN, ...args], { reject: false, timeout: 60_000, env: { KAFKA_BROKERS: '' } });

test('a misspelt flag is refused, named, and nothing runs', async () => {
  const result = await tracestream('run', program, '--formt', 'json');
  assert.equal(result.exitCode, 2);
  assert.match(result.stderr, /unknown option '--formt'/);
  assert.equal(result.stdout, '', 'the program must not have run');
});

test('a flag without its value is refused and named', async () => {
  const result = await tracestream('run', program, '--format');
  assert.equal(result.exitCode, 2);
  assert.match(result.stderr, /option '--format <format>' argument missing/);
});

test('a value outside a flag\'s choices is refused, listing the choices', async () => {
  const result = await tracestream('run', program, '--format', 'xml');
  assert.equal(result.exitCode, 2);
  assert.match(result.stderr, /'xml' is invalid.*snoop, compact, json/);
});

test('an invalid setting names its flag and its environment variable', async () => {
  const result = await tracestream('run', program, '--wall-time-ms', '0');
  assert.equal(result.exitCode, 2);
  assert.match(result.stderr, /--wall-time-ms \/ TRACESTREAM_WALL_TIME_MS/);
});

test('a setting flag a command does not use is refused', async () => {
  const result = await tracestream('broker', '--wall-time-ms', '1000');
  assert.equal(result.exitCode, 2);
  assert.match(result.stderr, /unknown option '--wall-time-ms'/);
});

test('an extra argument is refused', async () => {
  const result = await tracestream('run', program, program);
  assert.equal(result.exitCode, 2);
  assert.match(result.stderr, /too many arguments/);
});

test('every command has its own --help, which exits 0 and names the command', async () => {
  for (const factory of COMMANDS) {
    const name = factory().name();
    const result = await tracestream(name, '--help');
    assert.equal(result.exitCode, 0, `${name} --help: ${result.stderr}`);
    assert.match(result.stdout, new RegExp(`^Usage: tracestream ${name} `));
  }
});

test('no command prints the overview with every setting and exits 2', async () => {
  const result = await tracestream();
  assert.equal(result.exitCode, 2);
  assert.match(result.stderr, /Commands:/);
  assert.match(result.stderr, /TRACESTREAM_WALL_TIME_MS/);
});

test('the flags of a run reach the executor', async () => {
  const result = await tracestream('run', program, '--format', 'compact', '--repr-chars', '50');
  assert.equal(result.exitCode, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /^1\t\+x=1$/m);
});
