"""Trace fidelity: every change is credited to the line that made it, the fast path (comparing only
the names a line may change) gives the same trace as comparing the whole frame, and reprs are
bounded, reproducible and never fail.

    python3 -m unittest discover -s test/python
"""

import random
import sys
import unittest

from test_tracer import BACKENDS, TRACER_DIR, lines_and_changes, run

sys.path.insert(0, TRACER_DIR)
import tracer as tracing  # noqa: E402
import tracer_reprs  # noqa: E402


def credited(source, **job):
    """[(line, [(name, kind, repr), ...]), ...] of the line steps of `source`'s module frame."""
    steps, end, _ = run(source, **job)
    module = [step for step in steps if step[4] == "<module>"]
    return [(line, changes) for event, line, changes in lines_and_changes(module) if event == "line"], end


def whole_frame_steps(source):
    """The lines whose step compared the whole frame, running `source` in this process."""
    lines = []
    compare_all = tracing.FrameTrace.diff_all

    def recording(frame_trace, variables):
        lines.append(frame_trace.step_line)
        return compare_all(frame_trace, variables)

    tracing.FrameTrace.diff_all = recording
    tracer = tracing.Tracer("fast-path.py", lambda data: None, 0, 1 << 30, 200, backend="settrace")
    try:
        tracer.attach()
        try:
            exec(compile(source, "fast-path.py", "exec"), {"__name__": "__main__"})
        finally:
            tracer.finish(sys._getframe())
    finally:
        tracing.FrameTrace.diff_all = compare_all
    return lines


# Programs whose lines run code of their operands' types; each line's own changes are listed.
SIDE_EFFECTS = {
    "a defaultdict subscript inserts the key on its own line": (
        "from collections import defaultdict\nd = defaultdict(list)\nx = d['k']\ny = 1\nprint(len(d))\n",
        3, [("d", "m", "defaultdict(<class 'list'>, {'k': []})"), ("x", "n", "[]")],
    ),
    "a subclass of defaultdict (C __missing__) inserts on its own line": (
        "from collections import defaultdict\nclass D(defaultdict):\n    pass\nd = D(int)\nx = d[1] + 1\ny = 2\n",
        5, [("d", "m", "D(<class 'int'>, {1: 0})"), ("x", "n", "1")],
    ),
    "a defaultdict inside a list, reached through an item": (
        "from collections import defaultdict\ngrid = [defaultdict(int)]\nv = grid[0][5]\nq = 1\n",
        3, [("grid", "m", "[defaultdict(<class 'int'>, {5: 0})]"), ("v", "n", "0")],
    ),
    "a __missing__ of the program's own dict subclass": (
        "class Auto(dict):\n    def __missing__(self, key):\n        self[key] = key * 2\n        return self[key]\n"
        "a = Auto()\nv = a[4]\nw = 0\n",
        6, [("a", "m", "{4: 8}"), ("v", "n", "8")],
    ),
    "a __getitem__ with a side effect": (
        "class Log:\n    def __init__(self):\n        self.seen = []\n    def __getitem__(self, key):\n        self.seen.append(key)\n"
        "        return key\n    def __repr__(self):\n        return 'Log(%r)' % self.seen\nlog = Log()\nv = log[7]\nw = 0\n",
        10, [("log", "m", "Log([7])"), ("v", "n", "7")],
    ),
    "a property with a side effect": (
        "class C:\n    def __init__(self):\n        self.n = 0\n    @property\n    def p(self):\n        self.n += 1\n        return self.n\n"
        "    def __repr__(self):\n        return 'C(%d)' % self.n\nc = C()\nv = c.p\nw = 2\n",
        11, [("c", "m", "C(1)"), ("v", "n", "1")],
    ),
    "a standard-library descriptor (functools.cached_property) that fills the instance": (
        "import functools\nclass C:\n    @functools.cached_property\n    def p(self):\n        return 5\n"
        "    def __repr__(self):\n        return 'C(%r)' % sorted(vars(self))\nc = C()\nv = c.p\nw = 2\n",
        9, [("c", "m", "C(['p'])"), ("v", "n", "5")],
    ),
    "an in-place operator on a list changes its other name too": (
        "xs = [1]\nys = xs\nys += [2]\nz = 0\n",
        3, [("xs", "m", "[1, 2]"), ("ys", "m", "[1, 2]")],
    ),
    "a loop over an itertools.count advances the variable that holds it": (
        "import itertools\nit = itertools.count(5)\nfor x in it:\n    if x > 5:\n        break\n",
        3, [("it", "m", "count(6)"), ("x", "n", "5")],
    ),
    "an item store through one name changes its alias": (
        "xs = [1, 2]\nys = xs\nys[0] = 5\nz = 0\n",
        3, [("xs", "m", "[5, 2]"), ("ys", "m", "[5, 2]")],
    ),
    "an item store into a row changes the matrix that holds it": (
        "grid = [[0, 0], [0, 0]]\nrow = grid[1]\nrow[0] = 7\nz = 0\n",
        3, [("grid", "m", "[[0, 0], [7, 0]]"), ("row", "m", "[7, 0]")],
    ),
    "an augmented item store into a list held by a dict": (
        "d = {'a': [0]}\nbox = d['a']\nbox[0] += 1\nz = 0\n",
        3, [("box", "m", "[1]"), ("d", "m", "{'a': [1]}")],
    ),
    "an item store into a list an object of the program shows": (
        "class Holder:\n    def __init__(self):\n        self.items = [0]\n    def __repr__(self):\n        return 'H%r' % self.items\n"
        "h = Holder()\nitems = h.items\nitems[0] = 9\nz = 0\n",
        8, [("h", "m", "H[9]"), ("items", "m", "[9]")],
    ),
    "append, add and pop change the container's other names": (
        "xs = [1]\nboth = [xs]\nseen = {1}\nalso = [seen]\nxs.append(xs.pop() + 1); seen.add(2)\nz = 0\n",
        5, [("also", "m", "[{1, 2}]"), ("both", "m", "[[2]]"), ("seen", "m", "{1, 2}"), ("xs", "m", "[2]")],
    ),
    "a method of the same name on another type compares the whole frame": (
        "from collections import deque\nq = deque([1])\nqs = [q]\nq.append(2)\nz = 0\n",
        4, [("q", "m", "deque([1, 2])"), ("qs", "m", "[deque([1, 2])]")],
    ),
    "a slice store and an item deletion change every name that shows the list": (
        "xs = [1, 2, 3]\nys = [xs]\nxs[0:2] = ys[0][1:]\ndel xs[0]\nz = 0\n",
        3, [("xs", "m", "[2, 3, 3]"), ("ys", "m", "[[2, 3, 3]]")],
    ),
}

# Programs the differential compares; the side-effect programs above are among them.
DIFFERENTIAL = [source for source, _, _ in SIDE_EFFECTS.values()] + [
    "for i in range(50):\n    x = i * 2\n    y = x + 1\n",
    "xs = [3, 1, 2]\nt = 0\nfor k in xs:\n    t += k\nseen = {1: 2}\nfor k in xs:\n    if k in seen:\n        t -= seen[k]\n",
    "grid = ['ab', 'cd']\nn = 0\nfor i in range(2):\n    for j in range(2):\n        if grid[i][j] == 'a':\n            n += 1\n",
    "a, b = 0, 1\nfor _ in range(10):\n    a, b = b, a + b\nc, d = b, a\ndel a, b\n",
    "def f(xs):\n    t = 0\n    for k in range(len(xs)):\n        t += xs[k] * xs[-1]\n    return t\nr = f([1, 2, 3])\n",
    "rows = [[1, 2], [3, 4]]\ncol = [r[1] for r in rows]\ntotal = sum(col)\nrows[0][0] = 9\nm = rows[0][0] + rows[1][1]\n",
    "import sys\ndata = sys.stdin.read().split()\nn = int(data[0])\nvals = list(map(int, data[1:]))\nbest = max(vals)\nprint(n, best)\n",
    "from collections import Counter, deque\nc = Counter('abca')\nq = deque([1, 2])\nx = c['z']\ny = q[0]\nq.append(3)\nz = len(q)\n",
    "class P:\n    count = 0\n    def __init__(self):\n        P.count += 1\n        self.i = P.count\n    def __repr__(self):\n        return 'P%d' % self.i\n"
    "ps = [P(), P()]\nfirst = ps[0]\nk = P.count\n",
    "def gen(n):\n    for i in range(n):\n        yield i * i\ng = gen(3)\nv = next(g)\nw = [x for x in g]\n",
    "s = 'hello'\nout = ''\nfor ch in s:\n    if ch in 'aeiou':\n        out += ch.upper()\n    else:\n        out += ch\n",
    "try:\n    x = [1][5]\nexcept IndexError as e:\n    msg = str(e)\nfinally:\n    done = True\n",
    "import threading\nxs = []\nstop = threading.Event()\ndef fill():\n    while not stop.is_set() and len(xs) < 3:\n        xs.append(0)\n"
    "t = threading.Thread(target=fill)\nt.start()\nt.join()\nfor i in range(3):\n    y = i + 1\n",
    "counts = {}\nsame = counts\nfor ch in 'abcab':\n    if ch in counts:\n        counts[ch] += 1\n    else:\n        counts[ch] = 1\n"
    "del counts['a']\n",
    "a, b = 'abcbdab', 'bdcaba'\nprev = [0, 0, 0, 0, 0, 0, 0]\ncur = prev[:]\nrows = [prev, cur]\nfor i in range(1, 8):\n"
    "    for j in range(1, 7):\n        if a[i - 1] == b[j - 1]:\n            cur[j] = prev[j - 1] + 1\n"
    "        elif prev[j] > cur[j - 1]:\n            cur[j] = prev[j]\n        else:\n            cur[j] = cur[j - 1]\n"
    "    prev, cur = cur, prev\n    rows[i % 2][0] = i\n",
    "xs = [0, 0, 0]\nxs.append(xs)\nxs[0] = 5\nholder = {'k': xs}\nxs[1] = 6\nholder['k'][2] = 7\n",
    "from math import sqrt\nps = [2]\ngrid = [ps, ps]\nfor n in range(3, 40, 2):\n    if all(n % p for p in ps):\n"
    "        ps.append(n)\n    r = int(sqrt(n))\ns = set()\nfor p in ps:\n    s.add(p % 7)\nwhile ps:\n    top = ps.pop()\n",
    "big = list(range(300))\nlate = [0]\nboth = [big, late]\nlate[0] = 1\nboth[1][0] = 2\nbig[250] = -1\nbig[0] = -1\n",
    "import itertools\nit = iter([1, 2, 3])\nfor v in it:\n    w = v\ncount = itertools.count()\nfirst = next(count)\nfor k in count:\n    if k > 2:\n        break\n",
]


class FidelityTest(unittest.TestCase):
    def test_changes_made_by_code_of_the_operands_types_are_credited_to_their_line(self):
        for backend in BACKENDS:
            for name, (source, line, expected) in SIDE_EFFECTS.items():
                with self.subTest(name, backend=backend):
                    steps, end = credited(source, backend=backend)
                    self.assertIn(end["status"], ("ok", "exception"))
                    first = next(changes for number, changes in steps if number == line)
                    self.assertEqual(sorted(first), sorted(expected))

    def test_the_fast_path_and_the_whole_frame_give_the_same_trace(self):
        for backend in BACKENDS:
            for source in DIFFERENTIAL:
                with self.subTest(source.splitlines()[0], backend=backend):
                    fast = run(source, stdin="3 5 1 4", backend=backend)
                    whole = run(source, stdin="3 5 1 4", backend=backend, full_frame=True)
                    self.assertEqual(fast, whole)

    def test_lines_on_inert_values_and_builtin_containers_compare_only_their_own_names(self):
        # The differential above passes trivially if every line compared the whole frame.
        source = (
            "xs = [3, 1, 2]\nseen = {1, 2}\ngrid = ['ab', 'cd']\nt = 0\n"
            "for i in range(3):\n    t += xs[i] * 2\n    if xs[i - 1] in seen:\n        t -= 1\n    c = grid[i % 2][1]\n"
            "for k in xs:\n    t += k\n"
        )
        self.assertEqual(whole_frame_steps(source), [])

    def test_item_stores_into_builtin_lists_and_dicts_compare_only_the_names_that_show_them(self):
        source = (
            "xs = [0, 0, 0]\nys = xs\nd = {}\nfor i in range(3):\n    xs[i] = i\n    d[i] = xs[i]\n    xs[i] += 1\n"
            "del d[0]\n"
        )
        self.assertEqual(whole_frame_steps(source), [])

    def test_appends_adds_pops_and_math_functions_on_builtin_values_compare_only_their_names(self):
        source = (
            "from math import sqrt, gcd\nxs = []\nseen = {0}\nd = {1: 2}\nfor i in range(1, int(sqrt(50)) + 1):\n"
            "    xs.append(i * i)\n    seen.add(gcd(i, 6))\nlast = xs.pop()\nv = d.pop(1)\n"
        )
        self.assertEqual(whole_frame_steps(source), [1])

    def test_an_item_store_into_a_dict_subclass_compares_the_whole_frame(self):
        # defaultdict's __setitem__ is dict's, but a subclass of the program's could run anything.
        source = "from collections import defaultdict\nd = defaultdict(int)\nd[1] = 5\ny = 0\n"
        self.assertEqual(whole_frame_steps(source), [1, 2, 3])

    def test_lines_that_may_run_foreign_code_compare_the_whole_frame(self):
        source = "from collections import defaultdict\nd = defaultdict(int)\nx = d[1]\ny = x + 1\nxs = [d]\nz = xs[0][2]\n"
        # Line 5 only builds a list: its one change is xs.
        self.assertEqual(whole_frame_steps(source), [1, 2, 3, 6])


class ReprTest(unittest.TestCase):
    def test_a_huge_container_is_cut_while_its_repr_is_built(self):
        steps, end = credited("xs = list(range(10 ** 6))\nd = {i: [i] * 3 for i in range(10 ** 4)}\n", repr_chars=50)
        self.assertEqual(end["status"], "ok")
        (_, xs), (_, d) = steps
        self.assertTrue(xs[0][2].startswith("[0, 1, 2, ") and xs[0][2].endswith("…(1000000 items)]"), xs)
        self.assertTrue(d[0][2].endswith("…(10000 items)}"), d)
        self.assertLess(len(xs[0][2]), 100)

    def test_lists_of_small_ints_bools_and_none_built_by_c_code_read_as_the_per_item_loop_builds_them(self):
        budget = tracer_reprs.ReprBudget(200)
        flat = tracer_reprs._flat_sequence
        rng = random.Random(9)
        for _ in range(3000):
            magnitude = rng.choice([1, 9, 1000, 10 ** 14, 10 ** 15, 10 ** 16, 10 ** 20, 10 ** 80])
            items = [rng.randint(-magnitude, magnitude) for _ in range(rng.choice([8, 9, 40, 66, 67, 68, 200]))]
            if rng.random() < 0.2:
                items = [rng.random() < 0.5 for _ in items]
            if rng.random() < 0.2:
                items = [None if rng.random() < 0.5 else item for item in items]
            if rng.random() < 0.1:
                items[rng.randrange(len(items))] = rng.choice(["a, b", 1.5, None, [1, 2]])
            value = items if rng.random() < 0.5 else tuple(items)
            limit = rng.choice([16, 30, 100, 199, 200, 1000])
            fast = budget._bounded(value, limit, set())
            tracer_reprs._flat_sequence = lambda *arguments: None
            try:
                slow = budget._bounded(value, limit, set())
            finally:
                tracer_reprs._flat_sequence = flat
            self.assertEqual(fast, slow, (limit, value))

    def test_memory_addresses_are_stripped(self):
        steps, _ = credited("class C:\n    pass\nc = C()\nf = lambda: 0\n")
        reprs = [change[2] for _, changes in steps for change in changes]
        self.assertIn("<__main__.C object>", reprs)
        self.assertIn("<function <lambda>>", reprs)
        self.assertFalse(any("0x" in text for text in reprs), reprs)

    def test_a_failing_repr_becomes_a_marker_and_the_program_runs_on(self):
        source = "class Bad:\n    def __repr__(self):\n        raise RuntimeError('no')\nb = Bad()\nafter = 1\n"
        steps, end = credited(source)
        self.assertEqual(end["status"], "ok")
        self.assertIn((4, [("b", "n", "<Bad (repr failed: RuntimeError)>")]), steps)
        self.assertIn((5, [("after", "n", "1")]), steps)

    def test_a_slow_repr_becomes_a_marker_and_the_program_runs_on(self):
        source = (
            "class Slow:\n    def __repr__(self):\n        while True:\n            try:\n                pass\n"
            "            except BaseException:\n                pass\nb = Slow()\nafter = 1\n"
        )
        steps, end = credited(source, wall_time_ms=10_000)
        self.assertEqual(end["status"], "ok")
        self.assertIn((8, [("b", "n", "<Slow (repr took over 200 ms of CPU)>")]), steps)
        self.assertIn((9, [("after", "n", "1")]), steps)


if __name__ == "__main__":
    unittest.main()
