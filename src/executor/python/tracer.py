"""Line tracer: records, for one program, every executed line of its own code and what each line
changed in its frame.

Design (after snoop / PySnooper / Python Tutor, see STYLE.md):
- Frames are filtered once, at their `call` event, by filename: only the program's own code gets a
  local trace function, so the standard library runs without line events.
- A `line` event fires *before* its line runs. The step of a line is opened then (so steps are
  numbered in the order they started, as snoop prints them) and closed at the frame's next event,
  when the changes it made are visible.
- Changes come from comparing a per-frame snapshot of bounded reprs. Immutable values are compared
  by identity first, so an unchanged `int` costs no repr at all.
- Reprs are bounded *while* they are built, never built whole and cut afterwards; a failing
  `__repr__` gives a marker; memory addresses are stripped so traces are reproducible.

Records go to the trace channel as JSON lines (see trace-channel.ts for the reader):
  {"start": {...}}
  {"frame": [frame id, depth, function]}          declares a frame id for short records
  [index, event, line, depth, function, changes, value, exception, stdout]
  [index, line, frame id, changes]                 a line step that printed nothing
  {"out": [index, stdout]}                         what an open step printed before another step printed
  {"truncated": reason}
  {"end": {...}}
with changes = [[name, "n"|"m"|"d", repr-or-null], ...] and exception = [type, message] or null.
Steps are written when they finish, so the reader sorts them by index. A step's stdout is the
text of its "out" records, then its own: when the printing moves from one open step to another
(`print(x, end=""); f()` on one line, or an object's __str__ that prints), what the first has
printed so far is written then, so the channel holds everything printed in the order it was
printed and the parent can check it against the real stdout (channel-check.ts).

The parts: this module's Tracer (frames' start, records, flushing, limits, attach and detach);
tracer_frame (a frame's snapshot and the per-line hook); tracer_reprs (bounded reprs);
tracer_monitoring (the sys.monitoring backend); line_plan (which names a line can change).
"""

import json
import sys

from tracer_frame import FLUSH_EVERY_STEPS, SHORT_RECORD, FrameTrace, StopTracing
from tracer_monitoring import Monitoring
from tracer_reprs import ReprBudget, encode as _encode

TRACER_VERSION = "1.0.0"


class Tracer:
    """Traces the frames of code compiled with `filename`, writing step records through `write`
    (a callable taking bytes)."""

    def __init__(self, filename, write, max_steps, trace_bytes, repr_chars, backend="auto", full_frame=False):
        self.filename = filename
        # Compare every variable of the frame after every line, never just the line's own (the
        # reference the fast path is checked against: test/python, npm run bench:fidelity).
        self.full_frame = bool(full_frame)
        # Calls into code other than the program's (the standard library's Python code): a step
        # that made one compares the whole frame, since that code may have changed its objects.
        self.foreign_calls = 0
        self.write = write
        self.max_steps = max_steps if max_steps > 0 else -1  # -1: never reached
        self.trace_bytes = trace_bytes
        self.budget = ReprBudget(repr_chars)
        self.next_index = 0
        self.bytes_written = 0
        self.pending = []
        self.short_steps = []
        self.frames_declared = 0
        self.current = None
        # The frame whose open step was credited last: printing by another step writes its text so far.
        self.output_owner = None
        self.active = False
        self.truncated = None
        self.lost_events = 0
        self.internal_error = None
        self.on_limit = None  # set by the child: ends the run (never returns)
        self.settrace = sys.settrace  # taken now: the child replaces sys.settrace for the program
        if backend == "auto":
            backend = "monitoring" if hasattr(sys, "monitoring") else "settrace"
        if backend == "monitoring" and not hasattr(sys, "monitoring"):
            raise ValueError("the monitoring backend needs Python 3.12 or later")
        self.backend = backend
        self.monitoring = Monitoring(self) if backend == "monitoring" else None

    # -- steps ---------------------------------------------------------------------------------

    def take_index(self, frame_trace):
        index = self.next_index
        if index == self.max_steps:
            self.on_limit("step-limit")
            raise StopTracing()
        self.next_index = index + 1
        self.current = frame_trace
        return index

    def emit(self, index, event, line, frame_trace, changes, value, exception, output):
        self.pending.append('[%d,"%s",%d,%d,%s,%s,%s,%s,%s]' % (
            index, event, line, frame_trace.depth, frame_trace.function_json, changes, value, exception, output))
        if len(self.pending) >= FLUSH_EVERY_STEPS:
            self.flush()

    def record_output(self, data):
        """Credits bytes the program wrote to stdout to the innermost running step."""
        if not self.active or self.budget.quiet:
            return
        frame_trace = self.current
        if frame_trace is None or frame_trace.step_index < 0:
            return
        owner = self.output_owner
        if owner is not frame_trace:
            if owner is not None and owner.step_output is not None and owner.step_index >= 0:
                self._write_output_so_far(owner)
            self.output_owner = frame_trace
        if frame_trace.step_output is None:
            frame_trace.step_output = [data]
        else:
            frame_trace.step_output.append(data)

    def _write_output_so_far(self, frame_trace):
        text = b"".join(frame_trace.step_output).decode("utf-8", "replace")
        frame_trace.step_output = None
        self.pending.append('{"out":[%d,%s]}' % (frame_trace.step_index, _encode(text)))
        if len(self.pending) >= FLUSH_EVERY_STEPS:
            self.flush()

    def declare_frame(self, depth, function_json):
        """A frame id for short records: `{"frame": [id, depth, function]}` precedes every use."""
        frame_id = self.frames_declared
        self.frames_declared = frame_id + 1
        self.pending.append('{"frame":[%d,%d,%s]}' % (frame_id, depth, function_json))
        return frame_id

    def flush(self):
        if not self.pending and not self.short_steps:
            return
        batch = self.pending
        short = self.short_steps
        self.pending = []
        self.short_steps = []
        if self.truncated is not None:
            return
        # Full records (frame declarations among them) go first, so every short record's frame is known.
        batch.append("")
        text = "\n".join(batch)
        if short:
            text += SHORT_RECORD * (len(short) // 4) % tuple(short)
        data = text.encode("utf-8", "surrogatepass")
        if self.bytes_written + len(data) > self.trace_bytes:
            self.truncate("trace-bytes")
            return
        self.bytes_written += len(data)
        self.write(data)

    def truncate(self, reason):
        """Stops recording; the program runs on untraced."""
        self.truncated = reason
        self.write((json.dumps({"truncated": reason}) + "\n").encode())
        self.detach()

    # -- frames --------------------------------------------------------------------------------

    def global_trace(self, frame, event, arg):
        if frame.f_code.co_filename != self.filename:
            self.foreign_calls += 1
            return None
        if self.truncated is not None:
            return None
        try:
            parent = self._parent_of(frame)
            if parent is not None:
                parent.called = True
            existing = getattr(frame.f_trace, "__self__", None)
            if existing.__class__ is FrameTrace:  # a generator resuming
                frame_trace = existing
                frame_trace.parent = parent
                depth = parent.depth + 1 if parent is not None else 0
                if depth != frame_trace.depth:
                    frame_trace.depth = depth
                    frame_trace.frame_id = self.declare_frame(depth, frame_trace.function_json)
                if frame_trace.snapshot is None:
                    frame_trace.snapshot = {}
                self.emit(self.take_index(frame_trace), "call", frame.f_lineno, frame_trace, "[]", "null", "null", '""')
                return frame_trace.trace_function
            code = frame.f_code
            function = getattr(code, "co_qualname", code.co_name)
            is_module = parent is None and function == "<module>"
            frame_trace = FrameTrace(self, parent.depth + 1 if parent is not None else 0, code, function, is_module)
            frame_trace.parent = parent
            if is_module:
                frame_trace.variables = frame.f_globals
                frame_trace.remember(frame.f_globals, silently=True)
                self.current = frame_trace
                return frame_trace.trace_function
            arguments = frame_trace.remember(frame.f_locals, silently=False)
            self.emit(self.take_index(frame_trace), "call", frame.f_lineno, frame_trace, arguments, "null", "null", '""')
            return frame_trace.trace_function
        except StopTracing:
            raise
        except RecursionError:
            self.lost_events += 1
            return None
        except BaseException as error:
            self.fail(error)
            return None

    @staticmethod
    def _parent_of(frame):
        caller = frame.f_back
        while caller is not None:
            owner = getattr(caller.f_trace, "__self__", None)
            if owner.__class__ is FrameTrace:
                return owner
            caller = caller.f_back
        return None

    def fail(self, error):
        if isinstance(error, MemoryError):
            self.on_limit("memory")
            raise StopTracing()
        self.internal_error = "%s: %s" % (type(error).__name__, error)
        self.truncate("tracer-error")

    # -- lifecycle -----------------------------------------------------------------------------

    def attach(self):
        self.active = True
        if self.monitoring is not None:
            self.monitoring.start()
        else:
            self.settrace(self.global_trace)

    def _stop_events(self):
        if self.monitoring is not None:
            self.monitoring.stop()
        else:
            self.settrace(None)

    def detach(self):
        self.active = False
        self._stop_events()
        frame = sys._getframe()
        while frame is not None:
            frame.f_trace = None
            frame = frame.f_back

    def close_open_steps(self, frame):
        """Closes the open step of every traced frame on the stack, so a run that a limit ends
        keeps the changes of the lines it was in."""
        while frame is not None:
            owner = getattr(frame.f_trace, "__self__", None)
            if owner.__class__ is FrameTrace and owner.step_index >= 0:
                owner.full_diff_due = True
                owner.close_step(frame)
            frame = frame.f_back

    def finish(self, frame):
        if self.active:
            self.active = False
            self._stop_events()
            try:
                self.close_open_steps(frame)
            except BaseException:
                pass
        self.flush()
