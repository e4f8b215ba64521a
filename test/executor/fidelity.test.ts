import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { changes, py, startTestPool, type TestPool } from './helpers.js';

let test_: TestPool;

before(async () => {
  test_ = await startTestPool();
});
after(async () => {
  await test_.close();
});

/** Programs whose lines run code of their operands' types (the fast path must see what it changed). */
const PROGRAMS = {
  defaultdict: py`
    from collections import defaultdict
    d = defaultdict(list)
    x = d["k"]
    y = 1
    print(len(d))
  `,
  'a property with a side effect': py`
    class Counter:
        def __init__(self):
            self.reads = 0
        @property
        def value(self):
            self.reads += 1
            return self.reads
        def __repr__(self):
            return "Counter(%d)" % self.reads
    c = Counter()
    v = c.value
    w = 2
  `,
  '__getitem__ and __missing__ with side effects': py`
    class Log(dict):
        def __missing__(self, key):
            self[key] = len(self)
            return self[key]
    class Tape:
        def __init__(self):
            self.read = []
        def __getitem__(self, i):
            self.read.append(i)
            return i
        def __repr__(self):
            return "Tape(%r)" % self.read
    log = Log()
    tape = Tape()
    total = 0
    for i in range(3):
        total += log[i % 2] + tape[i]
  `,
  'loops over lists, a dict and a grid (the fast path taken)': py`
    xs = [5, 3, 8]
    seen = {3: 1}
    grid = ["ab", "cd"]
    t = 0
    for i in range(len(xs)):
        t += xs[i - 1]
        if xs[i] in seen:
            t -= seen[xs[i]]
        c = grid[i % 2][1]
  `,
};

test('the fast path and comparing the whole frame give the same trace (defaultdict, properties, __getitem__ side effects)', async () => {
  for (const [name, source] of Object.entries(PROGRAMS)) {
    const fast = await test_.pool.run({ source });
    const whole = await test_.pool.run({ source, compareWholeFrame: true });
    assert.equal(fast.outcome, 'ok', `${name}: ${fast.reason}`);
    assert.deepEqual(fast.steps, whole.steps, name);
    assert.equal(fast.stdout, whole.stdout, name);
  }
});

test("a defaultdict's new key is credited to the line that subscripted it, not to a later line", async () => {
  const e = await test_.pool.run({ source: PROGRAMS.defaultdict });
  assert.deepEqual(changes(e).filter((c) => !/^[12]:/.test(c)), ["3:d=defaultdict(<class 'list'>, {'k': []})", '3:x=[]', '4:y=1']);
});

test('a property that changes its object is credited to the line that read it', async () => {
  const e = await test_.pool.run({ source: PROGRAMS['a property with a side effect'] });
  const line11 = changes(e).filter((c) => c.startsWith('11:'));
  assert.deepEqual(line11, ['11:c=Counter(1)', '11:v=1']);
});
