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
  {"truncated": reason}
  {"end": {...}}
with changes = [[name, "n"|"m"|"d", repr-or-null], ...] and exception = [type, message] or null.
Steps are written when they finish, so the reader sorts them by index.
"""

import json
import opcode
import os
import re
import signal
import sys
import types
from _thread import _count as _other_threads

import line_plan

TRACER_VERSION = "1.0.0"

_YIELD_VALUE = opcode.opmap.get("YIELD_VALUE")
_GENERATOR_FLAGS = 0x20 | 0x80 | 0x200  # CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR
_FLUSH_EVERY_STEPS = 2048
# Short records ([index, line, frame id, changes]: a line that printed nothing) are kept as flat
# fields and formatted in one operation per flush; a per-step format was a fifth of the tracer's cost.
_SHORT_RECORD = "[%d,%d,%d,%s]\n"
_FLUSH_EVERY_SHORT_FIELDS = 4 * _FLUSH_EVERY_STEPS
_MAX_CONTAINER_ITEMS_SCANNED = 10_000
_MAX_MESSAGE_CHARS = 1000

# Values of these types are compared by identity: the same object cannot have changed.
# Modules, functions and classes keep their repr for life, so identity is enough for them too.
_IMMUTABLE = frozenset([
    int, float, bool, type(None), complex, str, bytes, range, frozenset, type,
    types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
])
_MUTABLE = object()  # stands for "compare by repr" in a snapshot; never identical to a value
_MISSING = object()
_SMALL_INT = 10 ** 18  # needs no bound on its repr
# Set by Python itself in every class body; noise in a trace.
_HIDDEN_NAMES = frozenset(["__module__", "__qualname__"])
_encode = json.encoder.encode_basestring  # the C encoder: a JSON string literal, non-ASCII kept

_plans = {}
_INERT, _LOCAL, _GLOBAL, _LOOP, _VAR = line_plan.INERT, line_plan.LOCAL, line_plan.GLOBAL, line_plan.LOOP, line_plan.VAR
_INERT_TYPES = line_plan.INERT_TYPES


def _code_plans(code):
    """What the tracer keeps per code object: line_plan.analyse's facts, the Plan of each step
    offset seen so far, and the line of each instruction (for the monitoring backend's jumps)."""
    entry = _plans.get(code)
    if entry is None:
        instructions, by_offset, floating, loop_entries = line_plan.analyse(code)
        lines = {instruction.offset: line_plan.line_of(instruction) for instruction in instructions}
        entry = (instructions, by_offset, floating, loop_entries, {}, lines)
        _plans[code] = entry
    return entry


def _step_plan(code, offset, line):
    instructions, by_offset, floating, loop_entries, plans, _ = _code_plans(code)
    plan = line_plan.plan_step(instructions, by_offset, floating, loop_entries, offset, line)
    plans[offset] = plan
    return plan


_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")
_MODULE_FROM = re.compile(r"^<module '([^']*)' (?:from '[^']*'|\(built-in\)|\(frozen\)|\(namespace\)[^>]*)>$")


def _normalize(text):
    if " at 0x" in text:
        text = _ADDRESS.sub("", text)
    if text.startswith("<module "):
        text = _MODULE_FROM.sub(r"<module '\1'>", text)
    return text


class _SlowRepr(BaseException):
    """Raised into a __repr__ that ran past its CPU-time budget (SIGPROF); a BaseException so that
    the program's own `except Exception` inside its __repr__ does not swallow it."""


# A program's __repr__ runs inside the tracer, between two lines: past this much CPU it becomes a marker.
_REPR_CPU_SECONDS = 0.2


class ReprBudget:
    """Builds reprs no longer than `limit` characters (plus a marker saying how much was left out)."""

    __slots__ = ("limit", "quiet", "in_foreign")

    def __init__(self, limit):
        self.limit = max(16, limit)
        # Set while a program's own __repr__ runs, so what it prints is not taken as program output.
        self.quiet = False
        # Set while a __repr__ of a type other than the builtins runs under its CPU-time budget.
        self.in_foreign = False
        signal.signal(signal.SIGPROF, self._on_slow_repr)

    def _on_slow_repr(self, signum, frame):
        if self.in_foreign:
            raise _SlowRepr()  # again every tick while it runs: a bare `except:` cannot keep it going

    def repr(self, value):
        self.quiet = True
        try:
            return self._bounded(value, self.limit, set())
        finally:
            self.quiet = False

    def _bounded(self, value, budget, active):
        kind = type(value)
        if kind is str:
            if len(value) > budget:
                return repr(value[:budget]) + "…(%d chars)" % len(value)
            return repr(value)
        if kind is int:
            if value.bit_length() > budget * 4:
                return "<int with %d bits>" % value.bit_length()
            text = repr(value)
        elif kind is float or kind is bool or value is None:
            return repr(value)
        elif kind is list or kind is tuple or kind is set or kind is frozenset:
            return self._sequence(value, kind, budget, active)
        elif kind is dict:
            return self._mapping(value, budget, active)
        else:
            text = self._foreign(value, kind, budget)
        if len(text) > budget:
            return text[:budget] + "…"
        return text

    def _foreign(self, value, kind, budget):
        try:
            size = len(value) if hasattr(kind, "__len__") and not isinstance(value, type) else None
        except BaseException:
            size = None
        if size is not None and size > _MAX_CONTAINER_ITEMS_SCANNED:
            return "<%s with %d items>" % (kind.__name__, size)
        try:
            try:
                self.in_foreign = True
                signal.setitimer(signal.ITIMER_PROF, _REPR_CPU_SECONDS, 0.01)
                text = repr(value)
            finally:
                self.in_foreign = False
                signal.setitimer(signal.ITIMER_PROF, 0)
        except _SlowRepr:
            return "<%s (repr took over %d ms of CPU)>" % (kind.__name__, _REPR_CPU_SECONDS * 1000)
        except BaseException as error:  # a program's __repr__ may raise anything
            return "<%s (repr failed: %s)>" % (kind.__name__, type(error).__name__)
        if type(text) is not str:
            return "<%s (repr returned %s)>" % (kind.__name__, type(text).__name__)
        return _normalize(text)

    def _sequence(self, value, kind, budget, active):
        key = id(value)
        if key in active:
            return "[...]" if kind is list else "(...)"
        if kind is list:
            opening, closing = "[", "]"
        elif kind is tuple:
            opening, closing = "(", ",)" if len(value) == 1 else ")"
        elif not value:
            return "set()" if kind is set else "frozenset()"
        else:
            opening, closing = ("{", "}") if kind is set else ("frozenset({", "})")
        active.add(key)
        try:
            parts = []
            used = len(opening) + len(closing)
            for item in value:
                text = self._bounded(item, max(16, budget - used), active)
                used += len(text) + 2
                if used > budget and parts:
                    parts.append("…(%d items)" % len(value))
                    break
                parts.append(text)
            return opening + ", ".join(parts) + closing
        finally:
            active.discard(key)

    def _mapping(self, value, budget, active):
        key = id(value)
        if key in active:
            return "{...}"
        active.add(key)
        try:
            parts = []
            used = 2
            for k, v in value.items():
                text = self._bounded(k, max(16, budget - used), active) + ": "
                text += self._bounded(v, max(16, budget - used - len(text)), active)
                used += len(text) + 2
                if used > budget and parts:
                    parts.append("…(%d items)" % len(value))
                    break
                parts.append(text)
            return "{" + ", ".join(parts) + "}"
        finally:
            active.discard(key)


def _exception_info(error):
    kind = type(error)
    name = kind.__qualname__
    if kind.__module__ not in ("builtins", "__main__"):
        name = kind.__module__ + "." + name
    try:
        message = str(error)
    except BaseException:
        message = "<str() failed>"
    if len(message) > _MAX_MESSAGE_CHARS:
        message = message[:_MAX_MESSAGE_CHARS] + "…(%d chars)" % len(message)
    return [name, message]


class StopTracing(BaseException):
    """Raised inside the tracer when a limit ends the run; never seen by the program's handlers
    because the tracer ends the process itself (see Tracer.on_limit)."""


class FrameTrace:
    """Trace state of one frame of the program: its snapshot and its open step. It lives in the
    frame's `f_trace`, so it is freed with the frame and never keeps a frame alive."""

    __slots__ = (
        "tracer", "depth", "function", "function_json", "frame_id", "snapshot", "parent", "pending_exception",
        "is_module", "code", "plans", "variables", "trace_function", "step_index", "step_line", "step_offset", "step_output", "called", "full_diff_due",
        "step_names", "step_foreign_calls", "safe_loops",
    )

    def __init__(self, tracer, depth, code, function, is_module):
        self.tracer = tracer
        self.depth = depth
        self.function = function
        self.function_json = _encode(function)
        self.frame_id = tracer.declare_frame(depth, self.function_json)
        self.snapshot = {}
        self.parent = None
        self.pending_exception = None
        self.is_module = is_module
        self.code = code
        # Module frames: their globals, always current. Function frames: None, read f_locals per
        # event (that access is what syncs a function's fast locals into the mapping).
        self.variables = None
        self.plans = _code_plans(code)[4]
        self.trace_function = self.trace  # one bound method for the frame's life, not one per event
        self.step_index = -1  # -1: no open step
        self.step_line = 0
        self.step_offset = 0
        self.step_output = None
        self.called = False
        self.full_diff_due = False
        # The open step's verdict (see verdict): the names to compare, or None for the whole frame.
        self.step_names = None
        self.step_foreign_calls = 0
        # FOR_ITER offsets whose current iterator was made from a checked value (line_plan.LOOP).
        self.safe_loops = set()

    def trace(self, frame, event, arg):
        if event == "line":
            try:
                tracer = self.tracer
                variables = self.variables
                if variables is None:
                    variables = frame.f_locals
                index = self.step_index
                if index >= 0:
                    # close_step's common case, inlined: this runs once per executed line.
                    names = self.step_names
                    if names is None or self.called or self.full_diff_due or self.step_output is not None \
                            or tracer.foreign_calls != self.step_foreign_calls:
                        self.close_step(frame, variables)
                    else:
                        self.step_index = -1
                        changes = self.diff_names(variables, names)
                        short_steps = tracer.short_steps
                        short_steps += (index, self.step_line, self.frame_id, changes)
                        if len(short_steps) >= _FLUSH_EVERY_SHORT_FIELDS:
                            tracer.flush()
                # Tracer.take_index, inlined like the step closing above: a method call per line
                # was a measurable share of the hot-loop cost.
                index = tracer.next_index
                if index == tracer.max_steps:
                    tracer.on_limit("step-limit")
                    raise StopTracing()
                tracer.next_index = index + 1
                tracer.current = self
                self.step_index = index
                line = self.step_line = frame.f_lineno
                offset = self.step_offset = frame.f_lasti
                plan = self.plans.get(offset)
                if plan is None:
                    plan = _step_plan(self.code, offset, line)
                self.step_names = self.verdict(plan, frame, variables)
                self.step_foreign_calls = tracer.foreign_calls
                self.pending_exception = None
            except StopTracing:
                raise
            except RecursionError:
                self.tracer.lost_events += 1  # the program is at the recursion limit; its next call fails
            except BaseException as error:
                self.tracer.fail(error)
            return self.trace_function
        tracer = self.tracer
        try:
            if event == "return":
                self.on_return(frame, arg)
            elif event == "exception":
                if self.step_index >= 0:
                    self.full_diff_due = True
                    self.close_step(frame)
                info = _exception_info(arg[1])
                self.pending_exception = info
                tracer.emit(tracer.take_index(self), "exception", frame.f_lineno, self, "[]", "null", _encode_exception(info), '""')
        except StopTracing:
            raise
        except RecursionError:
            tracer.lost_events += 1
        except BaseException as error:
            tracer.fail(error)
        return self.trace_function

    def on_return(self, frame, value, yielded=None):
        tracer = self.tracer
        if self.step_index >= 0:
            self.close_step(frame)
        if not self.is_module:
            if self.pending_exception is not None:
                returned, exception = "null", _encode_exception(self.pending_exception)
            else:
                returned, exception = _encode(tracer.budget.repr(value)), "null"
            tracer.emit(tracer.take_index(self), "return", frame.f_lineno, self, "[]", returned, exception, '""')
        tracer.current = self.parent
        if yielded is None:
            yielded = bool(frame.f_code.co_flags & _GENERATOR_FLAGS) and self._yielded(frame)
        if yielded:
            self.full_diff_due = True  # the value sent in on resume is stored before any line event
        else:
            self.snapshot = None

    def on_yield(self, frame, value):
        try:
            self.on_return(frame, value, yielded=True)
        except StopTracing:
            raise
        except BaseException as error:
            self.tracer.fail(error)

    @staticmethod
    def _yielded(frame):
        code = frame.f_code.co_code
        lasti = frame.f_lasti
        return 0 <= lasti < len(code) and code[lasti] == _YIELD_VALUE

    def verdict(self, plan, frame, variables):
        """The names the step about to run must compare, or None for the whole frame: the plan's
        names when its requirements hold for the values the line is about to read (line_plan)."""
        names = plan.names
        # Another thread of the program may change this frame's objects while the line runs.
        if names is not None and not self.tracer.full_frame and _other_threads() == 0:
            for kind, path, extra in plan.requirements:
                if kind == _LOOP:
                    if extra in self.safe_loops:
                        continue
                    break
                if path[0] == _VAR:
                    scope = path[1]
                    value = variables.get(path[2], _MISSING) if scope != _GLOBAL else _MISSING
                    if value is _MISSING and scope != _LOCAL:
                        value = frame.f_globals.get(path[2], _MISSING)
                        if value is _MISSING:
                            value = frame.f_builtins.get(path[2], _MISSING)
                    if value is _MISSING:
                        break
                else:
                    value = line_plan.resolve(path, lambda scope, name: _lookup(frame, variables, scope, name))
                if kind == _INERT:
                    if type(value) in _INERT_TYPES or line_plan.is_inert(value):
                        continue
                    break
                if not line_plan.check(kind, value, extra):
                    break
            else:
                if plan.may_enter:
                    self.safe_loops.difference_update(plan.may_enter)
                    self.safe_loops.update(plan.enters)
                return names
        if plan.may_enter:
            self.safe_loops.difference_update(plan.may_enter)
        return None

    def close_step(self, frame, variables=None):
        index = self.step_index
        self.step_index = -1
        names = self.step_names
        if self.called or self.full_diff_due or self.tracer.foreign_calls != self.step_foreign_calls:
            names = None
            self.called = False
            self.full_diff_due = False
        if variables is None:
            variables = self.variables
            if variables is None:
                variables = frame.f_locals
        if names is None:
            changes = self.diff_all(variables)
        else:
            changes = self.diff_names(variables, names)
        output = self.step_output
        tracer = self.tracer
        if output is None:
            tracer.short_steps += (index, self.step_line, self.frame_id, changes)
            if len(tracer.short_steps) >= _FLUSH_EVERY_SHORT_FIELDS:
                tracer.flush()
            return
        self.step_output = None
        output_json = _encode(b"".join(output).decode("utf-8", "replace"))
        tracer.pending.append('[%d,"line",%d,%d,%s,%s,null,null,%s]' % (
            index, self.step_line, self.depth, self.function_json, changes, output_json))
        if len(tracer.pending) >= _FLUSH_EVERY_STEPS:
            tracer.flush()

    def diff_names(self, variables, names):
        """Changes of `names`, in the order diff_all gives them: the frame's order, deletions last by name."""
        snapshot = self.snapshot
        changes = None
        deleted = None
        for name in names:
            value = variables.get(name, _MISSING)
            previous = snapshot.get(name)
            if value is _MISSING:
                if previous is None:
                    continue
                del snapshot[name]
                if deleted is None:
                    deleted = [name]
                else:
                    deleted.append(name)
                continue
            elif previous is not None and previous[0] is value:
                continue
            else:
                kind = type(value)
                if kind is int and -_SMALL_INT < value < _SMALL_INT:
                    text = repr(value)
                else:
                    if previous is None and name in _HIDDEN_NAMES:
                        snapshot[name] = (value, "")
                        continue
                    text = self.tracer.budget.repr(value)
                snapshot[name] = (value if kind in _IMMUTABLE else _MUTABLE, text)
                if previous is None:
                    change = "[%s,\"n\",%s]" % (_encode(name), _encode(text))
                elif text == previous[1]:
                    continue
                else:
                    change = "[%s,\"m\",%s]" % (_encode(name), _encode(text))
            if changes is None:
                changes = [(name, change)]
            else:
                changes.append((name, change))
        if deleted is None:
            if changes is None:
                return "[]"
            if len(changes) == 1:
                return "[" + changes[0][1] + "]"
        return "[" + ",".join(_in_frame_order(changes or [], variables) + _deletions(deleted or [])) + "]"

    def diff_all(self, variables):
        snapshot = self.snapshot
        budget = self.tracer.budget
        changes = []
        seen = 0
        added = 0
        for name, value in variables.items():
            previous = snapshot.get(name)
            if previous is not None:
                seen += 1
                if previous[0] is value:
                    continue
                text = budget.repr(value)
                if text == previous[1]:
                    if type(value) in _IMMUTABLE:
                        snapshot[name] = (value, text)
                    continue
                changes.append("[%s,\"m\",%s]" % (_encode(name), _encode(text)))
            else:
                added += 1
                if name in _HIDDEN_NAMES:
                    snapshot[name] = (value, "")
                    continue
                text = budget.repr(value)
                changes.append("[%s,\"n\",%s]" % (_encode(name), _encode(text)))
            snapshot[name] = (value if type(value) in _IMMUTABLE else _MUTABLE, text)
        if seen < len(snapshot) - added:
            gone = [n for n in snapshot if n not in variables]
            for name in gone:
                del snapshot[name]
            changes += _deletions(gone)
        return "[" + ",".join(changes) + "]"

    def remember(self, variables, silently):
        """Takes the frame's variables as they are now: silently (module globals present before the
        program ran) or as the `new` changes of a call step (the arguments)."""
        budget = self.tracer.budget
        changes = []
        for name, value in variables.items():
            if name[0] == ".":  # a comprehension's hidden iterator: the same object all along
                self.snapshot[name] = (value, "")
                continue
            text = budget.repr(value)
            self.snapshot[name] = (value if type(value) in _IMMUTABLE else _MUTABLE, text)
            if not silently:
                changes.append("[%s,\"n\",%s]" % (_encode(name), _encode(text)))
        return "[" + ",".join(changes) + "]"


def _lookup(frame, variables, scope, name):
    """A name's value at a line event as the line's load instruction would find it (line_plan scopes)."""
    value = variables.get(name, _MISSING) if scope != _GLOBAL else _MISSING
    if value is _MISSING and scope != _LOCAL:
        value = frame.f_globals.get(name, _MISSING)
        if value is _MISSING:
            value = frame.f_builtins.get(name, _MISSING)
    return line_plan.MISSING if value is _MISSING else value


def _in_frame_order(changes, variables):
    """[(name, change), ...] -> the changes in the order of the names in `variables`."""
    wanted = {name for name, _ in changes}
    position = {}
    for at, name in enumerate(variables):
        if name in wanted:
            position[name] = at
            if len(position) == len(wanted):
                break
    return [change for _, change in sorted(changes, key=lambda pair: position.get(pair[0], -1))]


def _deletions(names):
    return ["[%s,\"d\",null]" % _encode(name) for name in sorted(names)]


def _encode_exception(info):
    return "[%s,%s]" % (_encode(info[0]), _encode(info[1]))


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
        self.monitoring = _Monitoring(self) if backend == "monitoring" else None

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
        if len(self.pending) >= _FLUSH_EVERY_STEPS:
            self.flush()

    def record_output(self, data):
        """Credits bytes the program wrote to stdout to the innermost running step."""
        if not self.active or self.budget.quiet:
            return
        frame_trace = self.current
        if frame_trace is None or frame_trace.step_index < 0:
            return
        if frame_trace.step_output is None:
            frame_trace.step_output = [data]
        else:
            frame_trace.step_output.append(data)

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
            text += _SHORT_RECORD * (len(short) // 4) % tuple(short)
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


class _Monitoring:
    """The tracer's events from sys.monitoring (Python 3.12+, PEP 669) instead of sys.settrace:
    events of code outside the program are switched off where they first fire (DISABLE), so the
    standard library runs at full speed. Each event is handed to the same FrameTrace methods the
    settrace backend uses; a frame's FrameTrace is kept in its f_trace, which nothing calls while
    no settrace function is installed."""

    TOOL_NAME = "tracestream"

    def __init__(self, tracer):
        self.tracer = tracer
        self.api = sys.monitoring  # taken now: the child shows the program a guarded sys.monitoring
        self.disable = self.api.DISABLE
        self.tool = None
        self.busy = False  # a program's __repr__ running inside our callback must not re-enter it

    def start(self):
        monitoring = self.api
        events = monitoring.events
        for tool in (monitoring.DEBUGGER_ID, 3, 4):
            if monitoring.get_tool(tool) is None:
                monitoring.use_tool_id(tool, self.TOOL_NAME)
                self.tool = tool
                break
        else:
            raise RuntimeError("no free sys.monitoring tool id")
        handlers = {
            events.PY_START: self.on_start, events.PY_RESUME: self.on_start, events.JUMP: self.on_jump,
            events.LINE: self.on_line, events.PY_RETURN: self.on_return, events.PY_YIELD: self.on_yield,
            events.RAISE: self.on_raise, events.RERAISE: self.on_raise, events.PY_UNWIND: self.on_unwind,
        }
        mask = 0
        for event, handler in handlers.items():
            monitoring.register_callback(self.tool, event, handler)
            mask |= event
        monitoring.set_events(self.tool, mask)

    def stop(self):
        if self.tool is None:
            return
        monitoring = self.api
        monitoring.set_events(self.tool, 0)
        for event in (monitoring.events.PY_START, monitoring.events.PY_RESUME, monitoring.events.JUMP, monitoring.events.LINE,
                      monitoring.events.PY_RETURN, monitoring.events.PY_YIELD, monitoring.events.RAISE,
                      monitoring.events.RERAISE, monitoring.events.PY_UNWIND):
            monitoring.register_callback(self.tool, event, None)
        monitoring.free_tool_id(self.tool)
        self.tool = None

    def owns(self, tool):
        return tool == self.tool

    def _dispatch(self, code, event, arg, disable_elsewhere):
        if code.co_filename != self.tracer.filename:
            return self.disable if disable_elsewhere else None
        if self.busy:
            return None
        self.busy = True
        try:
            frame = sys._getframe(2)
            trace = frame.f_trace
            if event == "call":
                trace = self.tracer.global_trace(frame, "call", None)
                frame.f_trace = trace
            elif trace is not None:
                if event == "yield":
                    trace.__self__.on_yield(frame, arg)
                else:
                    trace(frame, event, arg)
        finally:
            self.busy = False
        return None

    def on_start(self, code, offset):
        if code.co_filename != self.tracer.filename:
            # Left enabled (settrace sees these calls too): a step that ran foreign code compares
            # the whole frame (Tracer.foreign_calls).
            self.tracer.foreign_calls += 1
            return None
        return self._dispatch(code, "call", None, True)

    def on_line(self, code, line):
        return self._dispatch(code, "line", None, True)

    def on_jump(self, code, source, destination):
        """LINE fires only when the line changes; settrace also reports a jump back within one line
        (each iteration of a comprehension or a one-line loop). Only those jumps stay enabled."""
        if destination > source or code.co_filename != self.tracer.filename:
            return self.disable
        lines = _code_plans(code)[5]
        if lines.get(source) is None or lines.get(source) != lines.get(destination):
            return self.disable
        return self._dispatch(code, "line", None, True)

    def on_return(self, code, offset, value):
        return self._dispatch(code, "return", value, True)

    def on_yield(self, code, offset, value):
        return self._dispatch(code, "yield", value, True)

    def on_raise(self, code, offset, error):
        return self._dispatch(code, "exception", (type(error), error, None), False)

    def on_unwind(self, code, offset, error):
        return self._dispatch(code, "return", None, False)
