import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, test } from 'node:test';
import { loadPyodide, type PyodideInterface } from 'pyodide';

/**
 * The tracer on Python 3.12+, where it picks the sys.monitoring backend (PEP 669): Debian 12 has
 * only 3.11, so these tests run the tracer's own modules in Pyodide (CPython 3.14 compiled to
 * WebAssembly, installed from npm), in process (test/python/in_process.py), since Pyodide cannot
 * fork a child or set up a box. Every program is traced four ways (sys.monitoring and sys.settrace,
 * each with the fast path and with whole-frame comparison): the four traces must be identical.
 */
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const TRACER_DIR = join(REPO, 'src/executor/python');
const HOME = '/home/pyodide';

interface Traced {
  steps: unknown[][];
  stdout: string;
  error: string | null;
  backend: string;
  internalError: string | null;
}

const PROGRAMS: Record<string, { source: string; stdin?: string }> = {
  'a subscript that inserts into a defaultdict': {
    source: 'from collections import defaultdict\nd = defaultdict(list)\nx = d["k"]\ny = 1\nprint(len(d))\n',
  },
  'a property with a side effect': {
    source: [
      'class Counter:', '    def __init__(self):', '        self.reads = []',
      '    @property', '    def value(self):', '        self.reads.append(1)', '        return len(self.reads)',
      'c = Counter()', 'seen = c.reads', 'v = c.value', 'w = c.value', 'print(v, w, seen)', '',
    ].join('\n'),
  },
  'recursion with return values': {
    source: 'def fact(n):\n    if n <= 1:\n        return 1\n    return n * fact(n - 1)\nresult = fact(5)\nprint(result)\n',
  },
  'generators and a generator expression': {
    source: 'def evens(limit):\n    n = 0\n    while n < limit:\n        yield n\n        n += 2\ntotal = sum(x * x for x in evens(7))\nfor e in evens(4):\n    last = e\nprint(total, last)\n',
  },
  'list, dict and set comprehensions': {
    source: 'xs = [i * i for i in range(4)]\nd = {k: v for k, v in zip("abc", xs)}\ns = {x % 3 for x in xs}\nprint(xs, d, s)\n',
  },
  'exceptions raised, caught and finally': {
    source: [
      'def risky(n):', '    if n > 2:', '        raise ValueError("too big: %d" % n)', '    return n',
      'caught = []', 'for n in range(5):', '    try:', '        caught.append(risky(n))',
      '    except ValueError as error:', '        caught.append(str(error))', '    finally:', '        last = n',
      'print(caught, last)', '',
    ].join('\n'),
  },
  'a class whose methods mutate attributes': {
    source: 'class Account:\n    def __init__(self, owner):\n        self.owner = owner\n        self.balance = 0\n    def deposit(self, amount):\n        self.balance += amount\n        return self.balance\na = Account("ada")\na.deposit(5)\nb = a.deposit(7)\nprint(a.balance, b)\n',
  },
  'loops with break, continue and else': {
    source: 'found = None\nfor n in range(2, 20):\n    if n % 2 == 0:\n        continue\n    if n * n > 40:\n        found = n\n        break\nelse:\n    found = -1\ni = 0\nwhile True:\n    i += 3\n    if i > 10:\n        break\nprint(found, i)\n',
  },
  'a program that reads stdin': {
    source: 'n = int(input())\nvalues = list(map(int, input().split()))\nvalues.sort(reverse=True)\nprint(n, values[:2], sum(values))\n',
    stdin: '4\n3 9 1 7\n',
  },
  'closures with nonlocal and global': {
    source: 'count = 0\ndef make():\n    total = 0\n    def add(x):\n        nonlocal total\n        global count\n        total += x\n        count += 1\n        return total\n    return add\nadd = make()\nadd(2)\nr = add(3)\nprint(r, count)\n',
  },
  'a context manager and a lambda passed to a builtin': {
    source: 'class Box:\n    def __enter__(self):\n        self.open = True\n        return self\n    def __exit__(self, *exc):\n        self.open = False\nwith Box() as box:\n    inside = box.open\npairs = sorted([(3, "c"), (1, "a")], key=lambda p: p[0])\nprint(inside, box.open, pairs)\n',
  },
  'in-place changes to a list: item, slice, del, append': {
    source: 'xs = [5, 4, 3, 2, 1]\nxs[0] = 50\nxs[1:3] = [40, 30, 35]\ndel xs[-1]\nxs.append(0)\nys = xs\nys += [9]\nprint(xs)\n',
  },
  'match, the walrus operator and f-strings': {
    source: 'def kind(v):\n    match v:\n        case int() if v > 0:\n            return "positive"\n        case [a, b]:\n            return f"pair {a}-{b}"\n        case _:\n            return "other"\nout = [kind(v) for v in (3, [1, 2], "x")]\nif (n := len(out)) > 2:\n    print(n, out)\n',
  },
  'an uncaught exception ends the program': {
    source: 'data = {"a": 1}\ntotal = data["a"]\nmissing = data["b"]\nprint("never")\n',
  },
};

let pyodide: PyodideInterface;

function traceIn(source: string, stdin: string, backend: string, fullFrame: boolean): Traced {
  pyodide.globals.set('job', pyodide.toPy({ source, stdin, backend, fullFrame }));
  const json = pyodide.runPython('import json, in_process\njson.dumps(in_process.trace(job["source"], job["stdin"], job["backend"], job["fullFrame"]))') as string;
  return JSON.parse(json) as Traced;
}

describe('the tracer on Python 3.14 (Pyodide): sys.monitoring and sys.settrace backends', () => {
  before(async () => {
    pyodide = await loadPyodide();
    for (const name of readdirSync(TRACER_DIR).filter((file) => file.endsWith('.py'))) {
      pyodide.FS.writeFile(`${HOME}/${name}`, readFileSync(join(TRACER_DIR, name), 'utf8'));
    }
    pyodide.FS.writeFile(`${HOME}/in_process.py`, readFileSync(join(REPO, 'test/python/in_process.py'), 'utf8'));
    pyodide.runPython(`import sys; sys.path.insert(0, "${HOME}")`);
  });

  test('runs on Python 3.12 or later, where the tracer picks sys.monitoring by default', () => {
    const [major, minor] = (pyodide.runPython('import sys; list(sys.version_info[:2])') as { toJs(): number[] }).toJs();
    assert.ok(major! > 3 || (major === 3 && minor! >= 12), `Pyodide runs Python ${major}.${minor}`);
    assert.equal(traceIn('x = 1\n', '', 'auto', false).backend, 'monitoring');
  });

  for (const [name, program] of Object.entries(PROGRAMS)) {
    test(`${name}: the same trace through both backends, with and without the fast path`, () => {
      const reference = traceIn(program.source, program.stdin ?? '', 'settrace', true);
      assert.equal(reference.internalError, null);
      assert.ok(reference.steps.length > 0, 'no step recorded');
      for (const [backend, fullFrame] of [['monitoring', false], ['monitoring', true], ['settrace', false]] as const) {
        const traced = traceIn(program.source, program.stdin ?? '', backend, fullFrame);
        assert.equal(traced.internalError, null, `${backend}: tracer error`);
        assert.equal(traced.stdout, reference.stdout, `${backend}${fullFrame ? ', whole frame' : ''}: stdout`);
        assert.equal(traced.error, reference.error, `${backend}${fullFrame ? ', whole frame' : ''}: the program's exception`);
        assert.deepEqual(traced.steps, reference.steps, `${backend}${fullFrame ? ', whole frame' : ''}: steps`);
      }
    });
  }

  test('sys.monitoring credits the key a defaultdict subscript inserts to the line that subscripts', () => {
    const { steps } = traceIn(PROGRAMS['a subscript that inserts into a defaultdict']!.source, '', 'monitoring', false);
    const line3 = steps.find((step) => step[1] === 'line' && step[2] === 3);
    assert.ok(line3, 'line 3 was not recorded');
    assert.deepEqual(line3[5], [['d', 'm', "defaultdict(<class 'list'>, {'k': []})"], ['x', 'n', '[]']]);
    const line4 = steps.find((step) => step[1] === 'line' && step[2] === 4);
    assert.deepEqual(line4?.[5], [['y', 'n', '1']]);
  });

  test('sys.monitoring records the values functions return and what they print', () => {
    const traced = traceIn(PROGRAMS['recursion with return values']!.source, '', 'monitoring', false);
    const returns = traced.steps.filter((step) => step[1] === 'return').map((step) => step[6]);
    assert.deepEqual(returns, ['1', '2', '6', '24', '120']);
    assert.equal(traced.stdout, '120\n');
    const printing = traced.steps.find((step) => step[2] === 6);
    assert.equal(printing?.[8], '120\n');
  });
});
