import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderJson } from '../../src/render/index.js';
import { TraceBuilder, added } from '../helpers/execution.js';
import { doubleExecution, reverseKeys } from './programs.js';

describe('renderJson', () => {
  it('writes the keys in the order of the type declarations', () => {
    const execution = new TraceBuilder().line(1, [added('x', '1')]).build({ stdout: '' });
    assert.equal(renderJson(reverseKeys(execution)),
      '{"runId":"test#0","outcome":"ok","exitCode":0,"signal":null,"stdout":"","stderrTail":"","outputFile":null,' +
      '"exception":null,"reason":"ran to completion","wallTimeMs":12,"cpuTimeMs":10,' +
      '"steps":[{"index":0,"event":"line","line":1,"depth":0,"function":"<module>",' +
      '"changes":[{"name":"x","kind":"new","value":"1"}],"value":null,"exception":null,"stdout":""}],' +
      '"stepCount":1,"traceTruncated":false,' +
      '"limits":{"wallTimeMs":10000,"cpuTimeMs":10000,"addressSpaceBytes":1073741824,"outputBytes":1048576,' +
      '"maxSteps":100000,"traceBytes":67108864,"openFiles":64,"reprChars":200},' +
      '"tracerVersion":"test","pythonVersion":"3.11.2"}');
  });

  it('gives the same bytes for the same run built with its keys in another order and parses back to it', () => {
    const execution = doubleExecution();
    const text = renderJson(execution);
    assert.equal(renderJson(reverseKeys(execution)), text);
    assert.deepEqual(JSON.parse(text), execution);
  });

  it('leaves out keys that are not part of the data model', () => {
    const execution = { ...doubleExecution(), decodedAt: 123 };
    assert.equal(renderJson(execution), renderJson(doubleExecution()));
  });
});
