import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTraceChannel } from '../../src/executor/index.js';

const channel = (...lines: string[]) => Buffer.from(lines.map((l) => `${l}\n`).join(''));
const START = '{"start":{"tracer":"1.0.0","python":"3.11.2","backend":"settrace"}}';
const END = '{"end":{"status":"ok","exception":null,"exit_code":0,"step_count":3,"tracer_error":null}}';

test('full and short step records are read, sorted by index, with the frame a short record names', () => {
  const result = parseTraceChannel(channel(
    START,
    '{"frame":[0,0,"<module>"]}',
    '[2,"line",3,0,"<module>",[],null,null,"hi\\n"]',
    '[0,1,0,[["x","n","1"]]]',
    '[1,2,0,[["x","m","2"],["y","d",null]]]',
    END,
  ));
  assert.equal(result.truncation, null);
  assert.equal(result.pythonVersion, '3.11.2');
  assert.deepEqual(result.steps.map((s) => [s.index, s.event, s.line, s.depth, s.function, s.stdout]), [
    [0, 'line', 1, 0, '<module>', ''], [1, 'line', 2, 0, '<module>', ''], [2, 'line', 3, 0, '<module>', 'hi\n'],
  ]);
  assert.deepEqual(result.steps[1]!.changes, [{ name: 'x', kind: 'modified', value: '2' }, { name: 'y', kind: 'deleted', value: null }]);
  assert.equal(result.end?.status, 'ok');
});

test('a corrupt record (program bytes on the channel) keeps the steps before it and marks the trace corrupt', () => {
  const result = parseTraceChannel(channel(START, '{"frame":[0,0,"<module>"]}', '[0,1,0,[]]', 'garbage that is not JSON', '[1,2,0,[]]', END));
  assert.equal(result.truncation, 'corrupt');
  assert.deepEqual(result.steps.map((s) => s.index), [0]);
  assert.equal(result.end, null);
});

test('a short record naming an undeclared frame is corrupt, not guessed', () => {
  const result = parseTraceChannel(channel(START, '[0,1,7,[]]', END));
  assert.equal(result.truncation, 'corrupt');
  assert.equal(result.steps.length, 0);
});

test('a step-limit end marks the trace truncated by the step limit', () => {
  const result = parseTraceChannel(channel(START, '{"end":{"status":"step-limit","exception":null,"exit_code":1,"step_count":5,"tracer_error":null}}'));
  assert.equal(result.truncation, 'step-limit');
});
