import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { changes, leftovers, py, startTestPool, type TestPool } from './helpers.js';

let test_: TestPool;
before(async () => {
  test_ = await startTestPool();
});
after(async () => {
  await test_.close();
});

async function run(source: string, stdin = '') {
  const execution = await test_.pool.run({ source, stdin });
  assert.deepEqual(await leftovers(test_), { runDirs: [], processes: [] });
  return execution;
}

test('assignments record each new and modified variable on the line that changed it', async () => {
  const e = await run(py`
    x = 1
    y = x + 1
    x = 5
    del y
  `);
  assert.equal(e.outcome, 'ok');
  assert.deepEqual(changes(e), ['1:x=1', '2:y=2', '3:x=5', '4:y deleted']);
  assert.equal(e.stepCount, e.steps.length);
  assert.equal(e.traceTruncated, false);
});

test('a loop records its variable once per iteration', async () => {
  const e = await run(py`
    total = 0
    for i in range(3):
        total += i
  `);
  assert.equal(e.outcome, 'ok');
  // `total += 0` changes nothing, so the first pass through line 3 records no change.
  assert.deepEqual(changes(e), ['1:total=0', '2:i=0', '2:i=1', '3:total=1', '2:i=2', '3:total=3']);
});

test('nested functions: the call step carries the arguments and the return step the value', async () => {
  const e = await run(py`
    def outer(a):
        def inner(b):
            return a + b
        return inner(2)
    r = outer(1)
  `);
  assert.equal(e.outcome, 'ok');
  const calls = e.steps.filter((s) => s.event === 'call').map((s) => `${s.function}(${s.changes.map((c) => `${c.name}=${c.value}`).join(',')})@${s.depth}`);
  // inner's call also shows `a`, the variable of outer it closes over.
  assert.deepEqual(calls, ['outer(a=1)@1', 'outer.<locals>.inner(b=2,a=1)@2']);
  const returns = e.steps.filter((s) => s.event === 'return').map((s) => `${s.function}->${s.value}`);
  assert.deepEqual(returns, ['outer.<locals>.inner->3', 'outer->3']);
  assert.ok(changes(e).includes('5:r=3'));
});

test('recursion nests one depth per call', async () => {
  const e = await run(py`
    def fact(n):
        return 1 if n <= 1 else n * fact(n - 1)
    print(fact(4))
  `);
  assert.equal(e.outcome, 'ok');
  assert.equal(e.stdout, '24\n');
  assert.deepEqual(e.steps.filter((s) => s.event === 'call').map((s) => s.depth), [1, 2, 3, 4]);
  assert.deepEqual(e.steps.filter((s) => s.event === 'return').map((s) => s.value), ['1', '2', '6', '24']);
});

test('classes: methods are traced under their qualified names', async () => {
  const e = await run(py`
    class Counter:
        def __init__(self):
            self.n = 0
        def bump(self):
            self.n += 1
            return self.n
    c = Counter()
    c.bump()
    print(c.bump())
  `);
  assert.equal(e.outcome, 'ok');
  assert.equal(e.stdout, '2\n');
  const functions = new Set(e.steps.map((s) => s.function));
  assert.ok(functions.has('Counter.__init__') && functions.has('Counter.bump'), [...functions].join(' '));
});

test('generators: the values they yield are traced', async () => {
  const e = await run(py`
    def squares(n):
        for i in range(n):
            yield i * i
    out = list(squares(3))
  `);
  assert.equal(e.outcome, 'ok');
  assert.deepEqual(e.steps.filter((s) => s.function === 'squares' && s.event === 'return').map((s) => s.value).slice(0, 3), ['0', '1', '4']);
  assert.ok(changes(e).includes('4:out=[0, 1, 4]'));
});

test('comprehensions give their result to the assigned name', async () => {
  const e = await run(py`
    evens = [n for n in range(6) if n % 2 == 0]
    table = {k: k * k for k in evens}
  `);
  assert.equal(e.outcome, 'ok');
  assert.ok(changes(e).includes('1:evens=[0, 2, 4]'));
  assert.ok(changes(e).includes('2:table={0: 0, 2: 4, 4: 16}'));
});

test('a caught exception is traced and the program goes on to end ok', async () => {
  const e = await run(py`
    try:
        x = 1 / 0
    except ZeroDivisionError as error:
        msg = str(error)
    print(msg)
  `);
  assert.equal(e.outcome, 'ok');
  assert.equal(e.stdout, 'division by zero\n');
  assert.ok(e.steps.some((s) => s.event === 'exception' && s.exception?.type === 'ZeroDivisionError'));
  assert.equal(e.exception, null);
});

test('an uncaught exception ends the run as error with the exception and a traceback on stderr', async () => {
  const e = await run(py`
    def f(d):
        return d['missing']
    f({})
  `);
  assert.equal(e.outcome, 'error');
  assert.deepEqual(e.exception, { type: 'KeyError', message: "'missing'" });
  assert.equal(e.reason, "uncaught KeyError: 'missing'");
  assert.match(e.stderrTail, /KeyError: 'missing'\n$/);
  assert.equal(e.exitCode, 1);
});

test('mutating a container shows as a modification of its variable', async () => {
  const e = await run(py`
    xs = [1]
    xs.append(2)
    d = {}
    d['k'] = xs
  `);
  assert.equal(e.outcome, 'ok');
  assert.deepEqual(changes(e), ['1:xs=[1]', '2:xs=[1, 2]', '3:d={}', "4:d={'k': [1, 2]}"]);
  assert.equal(e.steps.find((s) => s.line === 2)?.changes[0]?.kind, 'modified');
});

test('stdin is the request stdin; output is attributed to the printing step', async () => {
  const e = await run(py`
    import sys
    n = int(input())
    rows = [line.split() for line in sys.stdin]
    print(n, len(rows))
  `, '2\na b\nc d\n');
  assert.equal(e.outcome, 'ok');
  assert.equal(e.stdout, '2 2\n');
  assert.equal(e.steps.map((s) => s.stdout).join(''), '2 2\n');
  assert.equal(e.steps.find((s) => s.stdout !== '')?.line, 4);
});

test('a line that prints what a printing function returns, or prints around a printing call, ends ok with each text on its own step', async () => {
  const e = await run(py`
    def swaps(n):
        print('swap', n)
        return n * 2
    print(swaps(3))
    class Loud:
        def __str__(self):
            print('inside')
            return 'loud'
    print('a', Loud())
    print('b', end=' '); swaps(4); print('c')
  `);
  assert.equal(e.outcome, 'ok', e.reason);
  // print() writes 'a ' before it calls __str__, which prints on a step of its own.
  assert.equal(e.stdout, 'swap 3\n6\na inside\nloud\nb swap 4\nc\n');
  const printedOn = (line: number) => e.steps.filter((s) => s.line === line && s.stdout !== '').map((s) => s.stdout);
  assert.deepEqual(printedOn(2), ['swap 3\n', 'swap 4\n']);
  assert.deepEqual(printedOn(4), ['6\n']);
  assert.deepEqual(printedOn(7), ['inside\n']);
  assert.deepEqual(printedOn(9), ['a loud\n']);
  assert.deepEqual(printedOn(10), ['b c\n']);
});

test('a file written to OUTPUT_PATH (HackerRank style) comes back as outputFile', async () => {
  const e = await run(py`
    import os
    with open(os.environ['OUTPUT_PATH'], 'w') as out:
        out.write('42\n')
  `);
  assert.equal(e.outcome, 'ok');
  assert.equal(e.outputFile, '42\n');
  assert.equal(e.stdout, '');
});

test('the program sees the scrubbed environment and its own work dir', async () => {
  const e = await run(py`
    import os
    print(sorted(os.environ))
    print(os.getcwd() == os.environ['HOME'], os.environ['TMPDIR'] == (os.getcwd() if os.getcwd() != '/sandbox' else '/tmp'), os.listdir('.'))
  `);
  assert.equal(e.outcome, 'ok');
  assert.equal(e.stdout, "['HOME', 'LANG', 'OUTPUT_PATH', 'PATH', 'PYTHONHASHSEED', 'PYTHONIOENCODING', 'TMPDIR']\nTrue True []\n");
});
