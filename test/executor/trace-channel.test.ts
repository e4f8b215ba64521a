import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventSchema } from '../../src/avro/index.js';
import { parseTraceChannel, verifyChannel, type ObservedEnd, type TraceChannelResult } from '../../src/executor/index.js';

const channel = (...lines: string[]) => Buffer.from(lines.map((l) => `${l}\n`).join(''));
const START = '{"start":{"tracer":"1.0.0","python":"3.11.2","backend":"settrace"}}';
const end = (status = 'ok', exitCode = 0, stepCount = 3) =>
  `{"end":{"status":"${status}","exception":null,"exit_code":${exitCode},"step_count":${stepCount},"tracer_error":null}}`;
const END = end();
const FRAME = '{"frame":[0,0,"<module>"]}';
const observed = (overrides: Partial<ObservedEnd> = {}): ObservedEnd => ({
  exitCode: 0, signal: null, killedForWallTime: false, stdout: '', stdoutComplete: true, sourceLines: 10, ...overrides,
});

test('full and short step records are read, sorted by index, with the frame a short record names', () => {
  const result = parseTraceChannel(channel(
    START,
    FRAME,
    '[2,"line",3,0,"<module>",[],null,null,"hi\\n"]',
    '[0,1,0,[["x","n","1"]]]',
    '[1,2,0,[["x","m","2"],["y","d",null]]]',
    END,
  ));
  assert.equal(result.truncation, null);
  assert.equal(result.corruption, null);
  assert.equal(result.pythonVersion, '3.11.2');
  assert.deepEqual(result.steps.map((s) => [s.index, s.event, s.line, s.depth, s.function, s.stdout]), [
    [0, 'line', 1, 0, '<module>', ''], [1, 'line', 2, 0, '<module>', ''], [2, 'line', 3, 0, '<module>', 'hi\n'],
  ]);
  assert.deepEqual(result.steps[1]!.changes, [{ name: 'x', kind: 'modified', value: '2' }, { name: 'y', kind: 'deleted', value: null }]);
  assert.equal(result.end?.status, 'ok');
  assert.equal(verifyChannel(result, observed({ stdout: 'hi\n' })), null);
});

test('a record that is not JSON (program bytes on the channel) makes the channel corrupt, naming the line', () => {
  const result = parseTraceChannel(channel(START, FRAME, '[0,1,0,[]]', 'garbage that is not JSON', '[1,2,0,[]]', END));
  assert.equal(result.corruption, 'line 4 is not JSON');
  assert.equal(result.end, null);
});

test('a short record naming an undeclared frame is corrupt, not guessed', () => {
  const result = parseTraceChannel(channel(START, '[0,1,7,[]]', END));
  assert.match(result.corruption ?? '', /undeclared frame 7/);
});

test('a step-limit end marks the trace truncated by the step limit', () => {
  const result = parseTraceChannel(channel(START, end('step-limit', 1, 5)));
  assert.equal(result.truncation, 'step-limit');
  assert.equal(result.corruption, null);
});

// The cases of issue 9: each is something our tracer never writes.
const CORRUPT: [string, Buffer, RegExp][] = [
  ['a non-integer line number', channel(START, '[0,"line",1.5,0,"<module>",[],null,null,""]', END), /line number/],
  ['a line number as a string', channel(START, '[0,"line","1",0,"<module>",[],null,null,""]', END), /line number/],
  ['a line number past Avro int', channel(START, `[0,"line",${2 ** 31},0,"<module>",[],null,null,""]`, END), /line number/],
  ['a negative step index', channel(START, FRAME, '[-1,1,0,[]]', END), /index/],
  ['a fractional depth', channel(START, '[0,"call",1,0.5,"f",[],null,null,""]', END), /depth/],
  ['a record after the end record', channel(START, END, FRAME), /after the end record/],
  ['a duplicate end record', channel(START, END, END), /after the end record/],
  ['a step recorded twice', channel(START, FRAME, '[0,1,0,[]]', '[0,2,0,[]]', END), /recorded twice/],
  ['a step past the end record\'s count', channel(START, FRAME, '[7,1,0,[]]', END), /past the end record/],
  ['a frame declared twice', channel(START, FRAME, FRAME, END), /declared twice/],
  ['a second start record', channel(START, START, END), /start record/],
  ['an end record with a fractional step count', channel(START, end('ok', 0, 1.5)), /malformed end/],
  ['an unknown end status', channel(START, end('pwned')), /malformed end/],
  ['an unknown record', channel(START, '{"steps":[]}', END), /unknown record/],
  ['an unknown truncation reason', channel(START, '{"truncated":"because"}', END), /truncation/],
  ['a huge version string', channel(`{"start":{"tracer":"${'9'.repeat(1000)}","python":"3"}}`, END), /version/],
  ['a change of an unknown kind', channel(START, FRAME, '[0,1,0,[["x","z","1"]]]', END), /malformed change/],
  ['a step with extra fields', channel(START, '[0,"line",1,0,"f",[],null,null,"",1]', END), /10 fields/],
];
for (const [name, bytes, reason] of CORRUPT) {
  test(`corrupt channel: ${name}`, () => {
    const result = parseTraceChannel(bytes);
    assert.match(result.corruption ?? '(none)', reason);
    assert.equal(verifyChannel(result, observed()), result.corruption);
  });
}

test('a last line cut short by a dying process is a cut truncation, not corruption', () => {
  const bytes = Buffer.concat([channel(START, FRAME, '[0,1,0,[]]'), Buffer.from('[1,2,0,[["x","n","12')]);
  const result = parseTraceChannel(bytes);
  assert.equal(result.corruption, null);
  assert.equal(result.truncation, 'cut');
  assert.deepEqual(result.steps.map((s) => s.index), [0]);
});

test('a forged ok end record followed by a raw exit with another status is corrupt', () => {
  const result = parseTraceChannel(channel(START, '[0,"line",1,0,"<module>",[],null,null,"forged\\n"]', end('ok', 0, 1)));
  assert.match(verifyChannel(result, observed({ exitCode: 3, stdout: 'forged\n' })) ?? '', /exit status 0, the process exited with 3/);
  assert.match(verifyChannel(result, observed({ exitCode: null, signal: 'SIGKILL', stdout: 'forged\n' })) ?? '', /killed by SIGKILL/);
});

test('an end record\'s exit status is compared as the kernel reports it (mod 256)', () => {
  const result = parseTraceChannel(channel(START, end('exit', 256, 0)));
  assert.equal(verifyChannel(result, observed({ exitCode: 0 })), null);
});

test('steps crediting stdout the program never printed are corrupt; text split by U+FFFD still matches', () => {
  const result = parseTraceChannel(channel(START, '[0,"line",1,0,"<module>",[],null,null,"invented\\n"]', end('ok', 0, 1)));
  assert.match(verifyChannel(result, observed({ stdout: 'real output\n' })) ?? '', /never printed/);
  const split = parseTraceChannel(channel(
    START, '[0,"line",1,0,"<module>",[],null,null,"a\uFFFD"]', '[1,"line",2,0,"<module>",[],null,null,"\uFFFDb\\n"]', end('ok', 0, 2),
  ));
  assert.equal(verifyChannel(split, observed({ stdout: 'a\u00e9b\n' })), null);
});

test('a step that prints after its callee printed is checked in the order of printing, not of step indices', () => {
  // `print(f())` where f prints: the line's step (0) opened first, but its text was printed last.
  const result = parseTraceChannel(channel(
    START, '[1,"line",5,1,"f",[],null,null,"inner\\n"]', '[0,"line",7,0,"<module>",[],null,null,"3\\n"]', end('ok', 0, 2),
  ));
  assert.equal(verifyChannel(result, observed({ stdout: 'inner\n3\n' })), null);
  assert.match(verifyChannel(result, observed({ stdout: '3\ninner\n' })) ?? '', /never printed/);
});

test('out records: what a step printed before another step printed comes first in its stdout and in the order checked', () => {
  // `print("a", end=""); f(); print("b")` on one line, f printing "x".
  const result = parseTraceChannel(channel(
    START, '{"out":[0,"a"]}', '[1,"line",5,1,"f",[],null,null,"x"]', '[0,"line",7,0,"<module>",[],null,null,"b"]', end('ok', 0, 2),
  ));
  assert.equal(result.corruption, null);
  assert.deepEqual(result.steps.map((s) => s.stdout), ['ab', 'x']);
  assert.deepEqual(result.printed, ['a', 'x', 'b']);
  assert.equal(verifyChannel(result, observed({ stdout: 'axb' })), null);
  assert.match(verifyChannel(result, observed({ stdout: 'abx' })) ?? '', /never printed/);
});

test('an out record after its step\'s record, or for a step past the end\'s count, is corrupt', () => {
  const late = parseTraceChannel(channel(START, '[0,"line",1,0,"<module>",[],null,null,""]', '{"out":[0,"a"]}', end('ok', 0, 1)));
  assert.match(late.corruption ?? '', /out record for step 0 after its step record/);
  const past = parseTraceChannel(channel(START, '{"out":[4,"a"]}', end('ok', 0, 1)));
  assert.match(past.corruption ?? '', /step 4 is past the end record's step count 1/);
  const empty = parseTraceChannel(channel(START, '{"out":[0,""]}', end('ok', 0, 1)));
  assert.match(empty.corruption ?? '', /bad index or stdout/);
});

test('a run killed before its end record may have credited stdout it never flushed: not corruption', () => {
  const result = parseTraceChannel(channel(START, '[0,"line",1,0,"<module>",[],null,null,"buffered\\n"]'));
  assert.equal(verifyChannel(result, observed({ exitCode: null, signal: 'SIGKILL', stdout: '' })), null);
});

test('a step on a line the source does not have is corrupt', () => {
  const result = parseTraceChannel(channel(START, '[0,"line",12,0,"<module>",[],null,null,""]', end('ok', 0, 1)));
  assert.match(verifyChannel(result, observed({ sourceLines: 10 })) ?? '', /line 12, past the source's 10/);
  assert.equal(verifyChannel(result, observed({ sourceLines: 11 })), null);
});

test('a wall-clock kill that raced an end record is not corruption', () => {
  const result = parseTraceChannel(channel(START, END));
  assert.equal(verifyChannel(result, observed({ exitCode: null, signal: 'SIGKILL', killedForWallTime: true })), null);
});

// ---- fuzzing: every byte sequence yields a corrupt channel or steps the ExecutionTrace schema takes.

/** mulberry32: a seeded generator, so a failing case can be replayed from its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALID = channel(
  START, FRAME,
  '[0,"call",1,0,"<module>",[["a","n","[1, 2]"]],null,null,""]',
  '[1,2,0,[["x","n","1"]]]',
  '[2,"return",3,1,"f",[],"None",["ValueError","bad"],"out\\n"]',
  '{"truncated":"trace-bytes"}',
  end('exception', 1, 3),
);
const ATOMS = [
  '0', '-1', '1.5', '1e400', '2147483648', '9007199254740993', 'null', 'true', '"line"', '"call"', '"x"', '[]', '{}',
  '"\\ud800"', '"\\u0000"', '[[["x","n","1"]]]', '["E","m"]', '"' + 'f'.repeat(300) + '"', '{"end":{}}', '{"frame":[0,0,"g"]}',
];

function randomRecord(next: () => number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const kind = Math.floor(next() * 6);
  if (kind === 0) return `[${Array.from({ length: 9 }, () => pick(ATOMS)).join(',')}]`;
  if (kind === 1) return `[${Array.from({ length: 4 }, () => pick(ATOMS)).join(',')}]`;
  if (kind === 2) return `{"frame":[${pick(ATOMS)},${pick(ATOMS)},${pick(ATOMS)}]}`;
  if (kind === 3) return `{"end":{"status":${pick(['"ok"', '"exit"', '"x"', '1'])},"exception":${pick(ATOMS)},"exit_code":${pick(ATOMS)},"step_count":${pick(ATOMS)}}}`;
  if (kind === 4) return `{"truncated":${pick(ATOMS)}}`;
  return Array.from({ length: 1 + Math.floor(next() * 40) }, () => String.fromCharCode(Math.floor(next() * 256))).join('');
}

function mutate(bytes: Buffer, next: () => number): Buffer {
  const lines = bytes.toString('latin1').split('\n');
  const copy = Buffer.from(bytes);
  switch (Math.floor(next() * 5)) {
    case 0: // flip bytes
      for (let i = 0; i < 1 + next() * 4; i++) copy[Math.floor(next() * copy.length)] = Math.floor(next() * 256);
      return copy;
    case 1: // cut anywhere
      return copy.subarray(0, Math.floor(next() * copy.length));
    case 2: // duplicate or move a line
      lines.splice(Math.floor(next() * lines.length), 0, lines[Math.floor(next() * lines.length)]!);
      return Buffer.from(lines.join('\n'), 'latin1');
    case 3: // insert a random record
      lines.splice(Math.floor(next() * lines.length), 0, randomRecord(next));
      return Buffer.from(lines.join('\n'), 'latin1');
    default: // random bytes
      return Buffer.from(Array.from({ length: Math.floor(next() * 200) }, () => Math.floor(next() * 256)));
  }
}

const stepType = (() => {
  const traceType = eventSchema('ExecutionTrace').type as unknown as { getField(name: string): { getType(): { getItemsType(): { isValid(v: unknown): boolean } } } };
  return traceType.getField('steps').getType().getItemsType();
})();

function assertUsable(result: TraceChannelResult, input: Buffer): void {
  const at = `input ${JSON.stringify(input.toString('latin1').slice(0, 300))}`;
  if (result.corruption !== null) {
    assert.equal(typeof result.corruption, 'string', at);
    return;
  }
  const indices = new Set<number>();
  for (const step of result.steps) {
    assert.ok(stepType.isValid(step), `${at}: step ${JSON.stringify(step)} does not fit the schema`);
    assert.ok(!indices.has(step.index), `${at}: duplicate index`);
    indices.add(step.index);
    if (result.end !== null) assert.ok(step.index < result.end.stepCount, `${at}: index past the step count`);
  }
  if (result.end !== null) assert.ok(Number.isSafeInteger(result.end.exitCode) && Number.isSafeInteger(result.end.stepCount), at);
}

test('fuzz: random and mutated channels never throw and give a corrupt channel or schema-valid steps', () => {
  const next = random(0x7ace);
  let corrupt = 0;
  for (let round = 0; round < 4_000; round++) {
    const input = round % 2 === 0
      ? mutate(round % 4 === 0 ? VALID : mutate(VALID, next), next)
      : Buffer.from(Array.from({ length: 1 + Math.floor(next() * 8) }, () => randomRecord(next)).join('\n'), 'latin1');
    const result = parseTraceChannel(input);
    assertUsable(result, input);
    const verdict = verifyChannel(result, observed({ exitCode: next() < 0.5 ? 0 : 1, stdout: 'out\n' }));
    assert.ok(verdict === null || typeof verdict === 'string');
    if (result.corruption !== null) corrupt++;
  }
  // Both sides of the property were exercised.
  assert.ok(corrupt > 500 && corrupt < 4_000, `${corrupt} corrupt of 4000`);
});

test('fuzz: huge and deeply nested records are refused or read without throwing', () => {
  const huge = channel(START, `[0,"line",1,0,"${'f'.repeat(8 * 1024 * 1024)}",[],null,null,""]`, end('ok', 0, 1));
  assert.equal(parseTraceChannel(huge).steps[0]?.function.length, 8 * 1024 * 1024);
  const nested = channel(START, '['.repeat(200_000) + ']'.repeat(200_000), END);
  assert.notEqual(parseTraceChannel(nested).corruption, null);
  const manyFrames = channel(START, ...Array.from({ length: 100_000 }, (_, id) => `{"frame":[${id},0,"f"]}`), end('ok', 0, 0));
  assert.equal(parseTraceChannel(manyFrames).corruption, null);
});
