import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Execution } from '../../src/runs/index.js';
import { isTracestreamError } from '../../src/errors/index.js';
import { parseCompact, renderCompact, renderSnoop } from '../../src/render/index.js';
import { TraceBuilder, added, changed, deleted } from '../helpers/execution.js';
import { DOUBLE_SOURCE, doubleExecution, reverseKeys } from './programs.js';

/** Values that collide with every part of the format's own syntax. */
const AWKWARD_VALUES = [
  '', ' ', 'a\tb', 'line1\nline2', 'crlf\r\n', '\n', '$', '$"x"', '"$x"', 'x=y', '=', '+1', '-1', '!', '|"', '^3',
  '@f', '#2', '.5', 'ValueError: x', '\\', '\\n', "'it\\'s'", '中文 🐍 é', '\u0000\u001b\u007f', '\ud800', 'end ok',
  'src 3', ' trailing ', 'a'.repeat(300),
];

function tricky(): Array<{ name: string; execution: Execution; source?: string }> {
  const values = new TraceBuilder();
  AWKWARD_VALUES.forEach((value, i) => values.line(1, [added(`v${i}`, value)], { stdout: value }));
  values
    .line(2, [added('$x', '1'), added('+a', '2'), added('a=b', '3'), added('', '4'), added('x\ty', '5'), added('-', '6')])
    .line(3, [changed('$x', '$'), deleted('+a'), deleted('a=b'), { name: 'odd', kind: 'deleted', value: 'kept' }])
    .line(4, [{ name: 'unknown', kind: 'new', value: null }, { name: 'gone', kind: 'modified', value: null }])
    .call('$f', 10, [added('self', '<Obj>')])
    .return(11, '')
    .call('f.<locals>.<lambda>', 12)
    .return(12, null)
    .call('=weird', 13)
    .raise(13, { type: 'mod:Err', message: '' })
    .raise(13, { type: '$Err', message: '$ money' })
    .raise(13, { type: '', message: 'x' })
    .raise(13, { type: 'E\tF', message: 'tab\there' })
    .unwind(13, { type: 'KeyError', message: "'k'" });

  // `result = down(1)` where down(n) recurses as `r = down(n + 1)` until n is 200, then returns n.
  const recursion = new TraceBuilder().line(7, [added('result', '1')]);
  const depth = 200;
  for (let d = 1; d <= depth; d += 1) {
    recursion.call('down', 1, [added('n', String(d))]).line(2);
    if (d < depth) recursion.line(4, [added('r', String(d + 1))]);
  }
  for (let d = depth; d >= 1; d -= 1) recursion.line(5).return(5, String(d));

  // `for x in gen(): print(x)`: the for line resumes the generator, then binds what it yielded.
  const generator = new TraceBuilder().line(1, [added('gen', '<function gen>')]);
  for (let i = 0; i < 3; i += 1) {
    generator
      .line(5, [i === 0 ? added('x', '0') : changed('x', String(i))])
      .call('gen', i === 0 ? 1 : 3)
      .line(i === 0 ? 2 : 3, i === 0 ? [added('i', '0')] : [changed('i', String(i))])
      .line(3)
      .return(3, String(i))
      .line(6, [], { stdout: `${i}\n` });
  }
  generator.line(5).call('gen', 3).line(2).return(2, 'None').line(7, [deleted('x')]);

  const caught = new TraceBuilder()
    .line(1)
    .line(2, [], { stdout: 'before' })
    .call('risky', 8, [added('k', "'missing'")])
    .line(9)
    .raise(9, { type: 'KeyError', message: "'missing'" })
    .unwind(9, { type: 'KeyError', message: "'missing'" })
    .raise(2, { type: 'KeyError', message: "'missing'" })
    .line(3)
    .line(4, [added('err', "KeyError('missing')")], { stdout: 'caught\n' })
    .line(5)
    .call('fail', 12)
    .line(13)
    .raise(13, { type: 'json.decoder.JSONDecodeError', message: 'Expecting value: line 1 column 1 (char 0)' })
    .unwind(13, { type: 'json.decoder.JSONDecodeError', message: 'Expecting value: line 1 column 1 (char 0)' })
    .raise(5, { type: 'json.decoder.JSONDecodeError', message: 'Expecting value: line 1 column 1 (char 0)' })
    .build({
      outcome: 'error', exitCode: 1, reason: 'uncaught JSONDecodeError\nat line 5',
      exception: { type: 'json.decoder.JSONDecodeError', message: 'Expecting value: line 1 column 1 (char 0)' },
    });

  // What a tracer can produce that the implied frame stack does not predict.
  const irregular = new TraceBuilder()
    .call('<module>', 1, [], { depth: 0, index: 1 })
    .line(1, [], { depth: 0, index: 3 })
    .call('key', 4, [added('x', '3')], { depth: 3 }) // called from sorted(): untraced frames between
    .line(5, [], { depth: 3 })
    .return(5, '-3', { depth: 3 })
    .line(2, [], { depth: 0, function: 'main' })
    .line(7, [], { depth: 5, function: 'resumed' })
    .line(2, [added('after', '1')], { depth: 0 })
    .line(3, [added('outer', '1')], { depth: 0, stdout: 'o' })
    .call('a', 20, [], { depth: 1 })
    .line(21, [], { depth: 1 })
    .call('b', 30, [], { depth: 2 })
    .line(31, [added('inner', '2')], { depth: 2 })
    .call('c', 40, [], { depth: 3 })
    .line(41, [], { depth: 3, stdout: 'deep' });
  // Cut while a, b and c run: the lines at depth 0 and 2 wait for their changes, the one at 1 has none.
  const cut = irregular.build({ outcome: 'timeout', traceTruncated: true, stepCount: 99, reason: 'wall-clock limit', exitCode: null, signal: 'SIGKILL' });

  const noSteps = new TraceBuilder().build({
    outcome: 'syntax-error', exitCode: 1, reason: '',
    exception: { type: 'SyntaxError', message: "Missing parentheses in call to 'print'" },
  });

  return [
    { name: 'awkward values, names and exception types', execution: values.build(), source: 'a\tb\n\n$x = 1\r\nsrc 2\nend ok' },
    { name: 'deep recursion', execution: recursion.build() },
    { name: 'a generator driven by a for loop', execution: generator.build() },
    { name: 'exceptions caught and uncaught', execution: caught },
    { name: 'irregular depths, functions and indexes in a cut trace', execution: cut },
    { name: 'a program that did not compile', execution: noSteps, source: "print 'hi'\n" },
    { name: 'the double program', execution: doubleExecution(), source: DOUBLE_SOURCE },
  ];
}

describe('renderCompact', () => {
  it('writes the source once, then one short record per step and a finish for a line that called', () => {
    const tab = '\t';
    assert.equal(renderCompact(doubleExecution(), { source: DOUBLE_SOURCE }), [
      'src 8',
      '1 def double(n):',
      '2     result = n * 2',
      '3     return result',
      '4',
      '5 total = 0',
      '6 for i in range(1, 3):',
      '7     total += double(i)',
      '8 print(total)',
      `1${tab}+double=<function double>`,
      `5${tab}+total=0`,
      `6${tab}+i=1`,
      '7',
      `>1${tab}double${tab}+n=1`,
      `2${tab}+result=2`,
      '3',
      `<3${tab}=2`,
      `.7${tab}total=2`,
      `6${tab}i=2`,
      '7',
      `>1${tab}double${tab}+n=2`,
      `2${tab}+result=4`,
      '3',
      `<3${tab}=4`,
      `.7${tab}total=6`,
      '6',
      `8${tab}|"6\\n"`,
      `end ok${tab}reason=ran to completion`,
      '',
    ].join('\n'));
  });

  it('escapes values that hold its delimiters as $ + JSON and leaves other values raw', () => {
    const execution = new TraceBuilder()
      .line(1, [added('s', "'a b'"), changed('t', 'x\ty'), changed('d', '$5'), deleted('old'), added('e', '')])
      .raise(1, { type: 'ValueError', message: 'two\nlines' })
      .build({ outcome: 'error', reason: 'uncaught ValueError' });
    assert.equal(
      renderCompact(execution),
      "1\t+s='a b'\tt=$\"x\\ty\"\td=$\"$5\"\t-old\t+e=\n" +
        '!1\t!ValueError: $"two\\nlines"\n' +
        'end error\treason=uncaught ValueError\n',
    );
  });

  it('writes an exception unwinding through frames once and then as a bare !', () => {
    const bad = { type: 'KeyError', message: "'k'" };
    const execution = new TraceBuilder()
      .line(1)
      .call('f', 4).line(5).raise(5, bad).unwind(5, bad)
      .raise(1, bad)
      .build({ outcome: 'error', exception: bad, reason: '' });
    assert.equal(renderCompact(execution), "1\n>4\tf\n5\n!5\t!KeyError: 'k'\n<5\t!\n!1\t!\nend error\t!\n");
  });

  it('names the depth of a finish record when a line between it and the innermost waiting line changed nothing', () => {
    const text = renderCompact(tricky().find((t) => t.name.startsWith('irregular'))!.execution);
    assert.deepEqual(text.split('\n').slice(-5), [
      '41\t|"deep"',
      '.31\t+inner=2',
      '.3\t^0\t+outer=1\t|"o"',
      'end timeout\ttruncated\tsteps=99\treason=wall-clock limit',
      '',
    ]);
  });

  it('is at most half the size of the snoop text for a loop', () => {
    const source = 'total = 0\nfor i in range(50):\n    total += i\nprint(total)\n';
    const trace = new TraceBuilder().line(1, [added('total', '0')]);
    let total = 0;
    for (let i = 0; i < 50; i += 1) {
      trace.line(2, [i === 0 ? added('i', '0') : changed('i', String(i))]);
      total += i;
      trace.line(3, [changed('total', String(total))]);
    }
    const execution = trace.line(2).line(4, [], { stdout: `${total}\n` }).build();
    const compact = Buffer.byteLength(renderCompact(execution, { source }));
    const snoop = Buffer.byteLength(renderSnoop(execution, { source }));
    assert.ok(compact * 2 <= snoop, `compact ${compact} bytes, snoop ${snoop} bytes`);
  });

  it('gives the same bytes for the same trace built with its keys in another order', () => {
    for (const { name, execution, source } of tricky()) {
      assert.equal(renderCompact(reverseKeys(execution), { source }), renderCompact(execution, { source }), name);
    }
  });
});

describe('parseCompact', () => {
  for (const { name, execution, source } of tricky()) {
    it(`recovers every step, the outcome and the source of ${name}`, () => {
      for (const options of [{ source }, {}]) {
        const parsed = parseCompact(renderCompact(execution, options));
        assert.deepEqual(parsed.steps, execution.steps);
        assert.equal(parsed.outcome, execution.outcome);
        assert.equal(parsed.reason, execution.reason);
        assert.deepEqual(parsed.exception, execution.exception);
        assert.equal(parsed.traceTruncated, execution.traceTruncated);
        assert.equal(parsed.stepCount, execution.stepCount);
        const expectedLines = options.source === undefined ? null : options.source.replace(/\n$/, '').split('\n');
        assert.deepEqual(parsed.sourceLines, options.source === '' ? [] : expectedLines);
      }
    });
  }

  const malformed: Array<[string, string, number]> = [
    ['a missing end record', '1\t+x=1\n', 2],
    ['an unknown record', '1\n?2\nend ok\n', 2],
    ['a finish record with no line waiting', '1\n.1\tx=2\nend ok\n', 2],
    ['a finish record for another line', '1\n>5\tf\n.2\tx=2\nend ok\n', 3],
    ['changes shown before the call of the line that made them', '1\tx=2\n>5\tf\nend ok\n', 2],
    ['a value field given twice', '<1\t=1\t=2\nend ok\n', 1],
    ['an unterminated escaped name', '1\t$"x=1\nend ok\n', 1],
    ['an unknown outcome', 'end fine\n', 1],
    ['a repeated exception with none before it', '<1\t!\nend ok\n', 1],
    ['text after the end record', 'end ok\n1\n', 1],
    ['a header promising more source lines than it has', 'src 3\n1 a\n2 b\n', 4],
    ['a misnumbered source line', 'src 2\n1 a\n3 b\nend ok\n', 3],
  ];
  for (const [what, text, line] of malformed) {
    it(`rejects ${what} with DECODE_FAILED naming line ${line}`, () => {
      assert.throws(() => parseCompact(text), (error: unknown) => {
        assert.ok(isTracestreamError(error, 'DECODE_FAILED'), String(error));
        assert.equal(error.details['line'], line);
        return true;
      });
    });
  }
});
