"""Tests of the Python tracer on whatever interpreter runs them (CI: Debian's 3.11 through the
settrace backend; Python 3.12+ also through sys.monitoring, checked against settrace).

    python3 -m unittest discover -s test/python
"""

import os
import shutil
import sys
import tempfile
import unittest

TRACER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "executor", "python")
sys.path.insert(0, TRACER_DIR)

import child  # noqa: E402
from in_process import read_channel  # noqa: E402

HAS_MONITORING = hasattr(sys, "monitoring")
BACKENDS = ("settrace", "monitoring") if HAS_MONITORING else ("settrace",)


def run(source, stdin="", backend="auto", **job):
    """Runs `source` in a forked child as the server would (minus the sandbox) and returns
    (steps sorted by index, end record, stdout)."""
    root = tempfile.mkdtemp()
    try:
        work = os.path.join(root, "work")
        os.mkdir(work)
        paths = {name: os.path.join(root, name) for name in ("stdin", "stdout", "stderr", "trace")}
        with open(paths["stdin"], "w") as f:
            f.write(stdin)
        pid = os.fork()
        if pid == 0:
            try:
                os.dup2(os.open(paths["stdin"], os.O_RDONLY), 0)
                os.dup2(os.open(paths["stdout"], os.O_WRONLY | os.O_CREAT, 0o600), 1)
                os.dup2(os.open(paths["stderr"], os.O_WRONLY | os.O_CREAT, 0o600), 2)
                trace_fd = os.open(paths["trace"], os.O_WRONLY | os.O_CREAT, 0o600)
                os.chdir(work)
                os.environ.clear()
                os.environ["OUTPUT_PATH"] = os.path.join(work, "output.txt")
                settings = dict(source=source, filename="main.py", trace=True, max_steps=0, trace_bytes=1 << 26,
                                repr_chars=200, output_bytes=1 << 20, wall_time_ms=20000, tracer_backend=backend)
                settings.update(job)
                child.run_job(settings, trace_fd)
            finally:
                os._exit(99)
        os.waitpid(pid, 0)
        with open(paths["trace"], encoding="utf-8") as f:
            steps, end = read_channel(f.read())
        with open(paths["stdout"], encoding="utf-8") as f:
            stdout = f.read()
        return steps, end, stdout
    finally:
        shutil.rmtree(root)


def lines_and_changes(steps):
    return [(step[1], step[2], [tuple(change) for change in step[5]]) for step in steps]


class TracerTest(unittest.TestCase):
    def test_each_line_is_credited_with_what_it_changed(self):
        for backend in BACKENDS:
            with self.subTest(backend=backend):
                steps, end, _ = run("a = 1\nb = [a]\nb.append(2)\ndel a\n", backend=backend)
                self.assertEqual(end["status"], "ok")
                self.assertEqual(lines_and_changes(steps), [
                    ("line", 1, [("a", "n", "1")]),
                    ("line", 2, [("b", "n", "[1]")]),
                    ("line", 3, [("b", "m", "[1, 2]")]),
                    ("line", 4, [("a", "d", None)]),
                ])

    def test_calls_show_arguments_and_returns_show_the_value(self):
        source = "def f(x):\n    y = x * 2\n    return y\nz = f(3)\n"
        for backend in BACKENDS:
            with self.subTest(backend=backend):
                steps, _, _ = run(source, backend=backend)
                call = next(step for step in steps if step[1] == "call")
                self.assertEqual((call[2], call[3], call[4], call[5]), (1, 1, "f", [["x", "n", "3"]]))
                returned = next(step for step in steps if step[1] == "return")
                self.assertEqual((returned[4], returned[6]), ("f", "6"))
                assignment = next(step for step in steps if step[1] == "line" and step[2] == 4)
                self.assertEqual(assignment[5], [["z", "n", "6"]])
                self.assertLess(assignment[0], call[0])  # numbered when it started, before the call it made

    def test_an_uncaught_exception_is_an_exception_step_and_ends_the_run(self):
        source = "def f():\n    raise ValueError('bad')\ntry:\n    f()\nexcept ValueError:\n    pass\nf()\n"
        for backend in BACKENDS:
            with self.subTest(backend=backend):
                steps, end, _ = run(source, backend=backend)
                self.assertEqual(end["status"], "exception")
                self.assertEqual(end["exception"], ["ValueError", "bad"])
                exceptions = [step for step in steps if step[1] == "exception"]
                self.assertEqual([(s[2], s[4]) for s in exceptions], [(2, "f"), (4, "<module>"), (2, "f"), (7, "<module>")])
                unwound = [step for step in steps if step[1] == "return"]
                self.assertTrue(all(step[7] == ["ValueError", "bad"] and step[6] is None for step in unwound))

    def test_generators_return_each_yielded_value_and_resume_with_a_call(self):
        source = "def g():\n    yield 1\n    yield 2\ntotal = sum(g())\n"
        for backend in BACKENDS:
            with self.subTest(backend=backend):
                steps, _, _ = run(source, backend=backend)
                events = [(step[1], step[6]) for step in steps if step[4] == "g"]
                self.assertEqual(events, [("call", None), ("line", None), ("return", "1"), ("call", None),
                                          ("line", None), ("return", "2"), ("call", None), ("return", "None")])

    def test_output_is_credited_to_the_line_that_printed_it(self):
        for backend in BACKENDS:
            with self.subTest(backend=backend):
                steps, _, stdout = run("for i in range(2):\n    print(i)\n", backend=backend)
                self.assertEqual(stdout, "0\n1\n")
                self.assertEqual([step[8] for step in steps if step[2] == 2], ["0\n", "1\n"])

    def test_the_program_cannot_switch_the_tracer_off(self):
        source = "import sys\nsys.settrace(None)\n"
        if HAS_MONITORING:
            source += "for tool in range(6):\n    try:\n        sys.monitoring.set_events(tool, 0)\n    except ValueError:\n        pass\n"
        source += "x = 42\n"
        for backend in BACKENDS:
            with self.subTest(backend=backend):
                steps, end, _ = run(source, backend=backend)
                self.assertEqual(end["status"], "ok")
                self.assertIn(["x", "n", "42"], steps[-1][5])

    def test_the_step_limit_stops_the_run_with_exactly_that_many_steps(self):
        for backend in BACKENDS:
            with self.subTest(backend=backend):
                steps, end, _ = run("while True:\n    pass\n", backend=backend, max_steps=500)
                self.assertEqual(end["status"], "step-limit")
                self.assertEqual([step[0] for step in steps], list(range(500)))

    @unittest.skipUnless(HAS_MONITORING, "sys.monitoring needs Python 3.12+")
    def test_monitoring_and_settrace_record_the_same_trace(self):
        programs = [
            "xs = []\nfor i in range(5):\n    xs.append(i * i)\nd = {k: v for k, v in zip('abc', xs)}\n",
            "class P:\n    def __init__(self, v):\n        self.v = v\n    def __repr__(self):\n        return 'P(%d)' % self.v\np = P(1)\nq = [P(i) for i in range(3)]\n",
            "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\nr = fib(6)\n",
            "try:\n    int('x')\nexcept ValueError as e:\n    msg = str(e)\nfinally:\n    done = True\n",
            "import sys\ndata = sys.stdin.read().split()\ntotal = sum(map(int, data))\nprint(total)\n",
        ]
        for source in programs:
            with self.subTest(source=source.splitlines()[0]):
                traced = run(source, stdin="1 2 3", backend="settrace")
                monitored = run(source, stdin="1 2 3", backend="monitoring")
                self.assertEqual(monitored, traced)


if __name__ == "__main__":
    unittest.main()
