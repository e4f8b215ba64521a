import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderSnoop } from '../../src/render/index.js';
import { TraceBuilder, added, changed, deleted } from '../helpers/execution.js';
import { DOUBLE_SOURCE, doubleExecution, reverseKeys } from './programs.js';

describe('renderSnoop', () => {
  it('prints each line with its number, its changes, calls indented by depth and the outcome', () => {
    assert.equal(renderSnoop(doubleExecution(), { source: DOUBLE_SOURCE }), [
      '   1 | def double(n):',
      '...... double = <function double>',
      '   5 | total = 0',
      '   6 | for i in range(1, 3):',
      '...... i = 1',
      '   7 |     total += double(i)',
      '    >>> Call to double in File "main.py", line 1',
      '    ...... n = 1',
      '       1 | def double(n):',
      '       2 |     result = n * 2',
      '    .......... result = 2',
      '       3 |     return result',
      '    <<< Return value from double: 2',
      '.......... total = 2',
      '   6 | for i in range(1, 3):',
      '...... i = 2',
      '   7 |     total += double(i)',
      '    >>> Call to double in File "main.py", line 1',
      '    ...... n = 2',
      '       1 | def double(n):',
      '       2 |     result = n * 2',
      '    .......... result = 4',
      '       3 |     return result',
      '    <<< Return value from double: 4',
      '.......... total = 6',
      '   6 | for i in range(1, 3):',
      '   8 | print(total)',
      'out| 6',
      '=== ok: ran to completion',
      '',
    ].join('\n'));
  });

  it('shows `line N` for each executed line when no source is given', () => {
    const text = renderSnoop(doubleExecution());
    assert.deepEqual(text.split('\n').slice(0, 8), [
      'line 1',
      '...... double = <function double>',
      'line 5',
      '...... total = 0',
      'line 6',
      '...... i = 1',
      'line 7',
      '    >>> Call to double in File "main.py", line 1',
    ]);
  });

  it('shows raised, caught and uncaught exceptions, deletions, multi-line values and partial output', () => {
    const source = [
      'def check(x):',
      '    raise ValueError(f"bad {x}\\nreally")',
      'try:',
      '    check(1)',
      'except ValueError as e:',
      '    del e',
      "print('a', end='')",
      'check(2)',
    ].join('\n');
    const execution = new TraceBuilder()
      .line(3)
      .line(4)
      .call('check', 1, [added('x', '1')])
      .line(2)
      .raise(2, { type: 'ValueError', message: 'bad 1\nreally' })
      .unwind(2, { type: 'ValueError', message: 'bad 1\nreally' })
      .raise(4, { type: 'ValueError', message: 'bad 1\nreally' })
      .line(5, [added('e', "ValueError('bad 1\\nreally')"), added('lines', 'first\nsecond')])
      .line(6, [deleted('e')])
      .line(7, [], { stdout: 'a' })
      .line(8)
      .call('check', 1, [added('x', '2')])
      .line(2)
      .raise(2, { type: 'ValueError', message: 'bad 2\nreally' })
      .unwind(2, { type: 'ValueError', message: 'bad 2\nreally' })
      .raise(8, { type: 'ValueError', message: 'bad 2\nreally' })
      .build({
        outcome: 'error', exitCode: 1,
        exception: { type: 'ValueError', message: 'bad 2\nreally' },
        reason: 'uncaught ValueError at line 8',
      });
    assert.equal(renderSnoop(execution, { source, filename: 'sol.py' }), [
      '   3 | try:',
      '   4 |     check(1)',
      '    >>> Call to check in File "sol.py", line 1',
      '    ...... x = 1',
      '       1 | def check(x):',
      '       2 |     raise ValueError(f"bad {x}\\nreally")',
      '    !!! ValueError: bad 1',
      '    !!! really',
      '    !!! Call ended by exception',
      '!!! ValueError: bad 1',
      '!!! really',
      '   5 | except ValueError as e:',
      "...... e = ValueError('bad 1\\nreally')",
      '...... lines = first',
      '               second',
      '   6 |     del e',
      '.......... del e',
      "   7 | print('a', end='')",
      'out| a',
      '   8 | check(2)',
      '    >>> Call to check in File "sol.py", line 1',
      '    ...... x = 2',
      '       1 | def check(x):',
      '       2 |     raise ValueError(f"bad {x}\\nreally")',
      '    !!! ValueError: bad 2',
      '    !!! really',
      '    !!! Call ended by exception',
      '!!! ValueError: bad 2',
      '!!! really',
      '=== error: uncaught ValueError at line 8',
      '',
    ].join('\n'));
  });

  it('says how many steps a truncated trace shows and still finishes the lines that were running', () => {
    const execution = new TraceBuilder()
      .line(1, [added('n', '0')])
      .line(2, [changed('n', '1')])
      .call('f', 5)
      .line(6)
      .build({ outcome: 'step-limit', traceTruncated: true, stepCount: 9, reason: 'stopped after 4 steps' });
    assert.equal(renderSnoop(execution), [
      'line 1',
      '...... n = 0',
      'line 2',
      '    >>> Call to f in File "main.py", line 5',
      '    line 5',
      '    line 6',
      '...... n = 1',
      '=== step-limit (trace truncated: 4 of 9 steps shown): stopped after 4 steps',
      '',
    ].join('\n'));
  });

  it('shows the output no step shows: all of an untraced run, the rest after a truncated trace', () => {
    const untraced = new TraceBuilder().build({ stdout: 'a\nb\n' });
    assert.equal(renderSnoop(untraced), 'out| a\nout| b\n=== ok: ran to completion\n');
    const truncated = new TraceBuilder()
      .line(1, [], { stdout: 'first\n' })
      .build({ stdout: 'first\nafter the cut\n', traceTruncated: true, stepCount: 5 });
    assert.equal(renderSnoop(truncated), 'line 1\nout| first\nout| after the cut\n=== ok (trace truncated: 1 of 5 steps shown): ran to completion\n');
  });

  it('gives the same bytes for the same trace built with its keys in another order', () => {
    const execution = doubleExecution();
    assert.equal(
      renderSnoop(reverseKeys(execution), { source: DOUBLE_SOURCE }),
      renderSnoop(execution, { source: DOUBLE_SOURCE }),
    );
  });
});
