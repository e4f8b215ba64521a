"""Traces a program inside this interpreter's own process, without the child and zygote (they
fork, and set up a box): for Pyodide, CPython 3.14 on WebAssembly, the one Python 3.12+ that
installs here (from npm), where the sys.monitoring backend can run. Used by
test/executor/monitoring-backend.test.ts; the forked path is tested by test_tracer.py on the
host's Python.

    trace(source, stdin, backend, full_frame) -> {"steps": [...], "stdout": str, "error": str|None}

Steps are the channel's records with short records expanded, sorted by index (read_channel,
which test_tracer.run reads its forked runs' channels with too).
"""

import builtins
import io
import json
import signal
import sys

# Pyodide has no interval timers: the tracer's CPU budget for a slow __repr__ cannot run there
# (tested on the host's Python instead), so arming and disarming it does nothing here.
if not hasattr(signal, "setitimer"):
    signal.ITIMER_PROF = 2
    signal.setitimer = lambda which, seconds, interval=0.0: (0.0, 0.0)

import tracer as tracing  # noqa: E402


class _Stdout(io.TextIOBase):
    """What the child's OutputTee does for the tracer: credits each write to the running step."""

    def __init__(self, tracer):
        self.tracer = tracer
        self.parts = []

    def writable(self):
        return True

    def write(self, text):
        self.parts.append(text)
        self.tracer.record_output(text.encode("utf-8", "surrogatepass"))
        return len(text)


def trace(source, stdin, backend, full_frame):
    records = []
    tracer = tracing.Tracer("main.py", records.append, max_steps=0, trace_bytes=1 << 24, repr_chars=200,
                            backend=backend, full_frame=full_frame)

    def on_limit(reason):
        raise RuntimeError("limit reached: %s" % reason)

    tracer.on_limit = on_limit
    stdout = _Stdout(tracer)
    saved = sys.stdout, sys.stdin
    sys.stdout, sys.stdin = stdout, io.StringIO(stdin)
    error = None
    try:
        code = compile(source, "main.py", "exec", dont_inherit=True)
        tracer.attach()
        exec(code, {"__name__": "__main__", "__builtins__": builtins})
    except BaseException as raised:  # the program's own exception ends its run, as in the child
        error = "%s: %s" % (type(raised).__name__, raised)
    finally:
        tracer.finish(sys._getframe())
        sys.stdout, sys.stdin = saved
    return {"steps": _steps(b"".join(records).decode("utf-8")), "stdout": "".join(stdout.parts), "error": error,
            "backend": tracer.backend, "internalError": tracer.internal_error}


def _steps(text):
    return read_channel(text)[0]


def read_channel(text):
    """(steps, end record or None) of a trace channel's text: short records expanded, what a step
    printed before another step printed ("out" records) put back in front of its stdout, steps
    sorted by index (they are written as they finish)."""
    frames, steps, end, printed = {}, [], None, {}
    for line in text.splitlines():
        record = json.loads(line)
        if isinstance(record, list):
            if len(record) == 4:
                index, number, frame_id, changes = record
                depth, function = frames[frame_id]
                record = [index, "line", number, depth, function, changes, None, None, ""]
            if record[0] in printed:
                record[8] = printed.pop(record[0]) + record[8]
            steps.append(record)
        elif "out" in record:
            index, stdout = record["out"]
            printed[index] = printed.get(index, "") + stdout
        elif "frame" in record:
            frame_id, depth, function = record["frame"]
            frames[frame_id] = (depth, function)
        elif "end" in record:
            end = record["end"]
    return sorted(steps, key=lambda step: step[0]), end
