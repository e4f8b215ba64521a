"""The trace state of one frame of the program (FrameTrace): its snapshot of bounded reprs and
its open step, and the per-line hook that closes one step and opens the next.

A `line` event fires *before* its line runs. The step of a line is opened then (so steps are
numbered in the order they started, as snoop prints them) and closed at the frame's next event,
when the changes it made are visible. Changes come from comparing the snapshot: immutable values
by identity first (an unchanged `int` costs no repr at all), and only the names the step's line
plan (line_plan) says it can change, where the plan's requirements hold; else the whole frame.
A snapshot entry is (value, or _MUTABLE for a value compared by repr; its repr; for a mutable
value, the ids of the containers its repr reached, or None when it cannot be known), so a step
that stores into a container compares just the variables that show it.

Everything the per-line hook reads is bound here at module level, once: this is the tracer's hot loop.
"""

import opcode
import types
from _thread import _count as _other_threads

import line_plan
import line_plan_checks
import line_plan_opcodes
from tracer_reprs import encode as _encode, encode_exception as _encode_exception, exception_info as _exception_info

_YIELD_VALUE = opcode.opmap.get("YIELD_VALUE")
_GENERATOR_FLAGS = 0x20 | 0x80 | 0x200  # CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR
FLUSH_EVERY_STEPS = 2048
# Short records ([index, line, frame id, changes]: a line that printed nothing) are kept as flat
# fields and formatted in one operation per flush; a per-step format was a fifth of the tracer's cost.
SHORT_RECORD = "[%d,%d,%d,%s]\n"
FLUSH_EVERY_SHORT_FIELDS = 4 * FLUSH_EVERY_STEPS

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

_plans = {}
_INERT, _LOCAL, _GLOBAL, _LOOP, _TARGET, _VAR = (
    line_plan_checks.INERT, line_plan_checks.LOCAL, line_plan_checks.GLOBAL, line_plan_checks.LOOP, line_plan_checks.TARGET,
    line_plan_checks.VAR)
_INERT_TYPES = line_plan_checks.INERT_TYPES


def code_plans(code):
    """What the tracer keeps per code object: line_plan_opcodes.analyse's facts, the Plan of each step
    offset seen so far, and the line of each instruction (for the monitoring backend's jumps)."""
    entry = _plans.get(code)
    if entry is None:
        instructions, by_offset, floating, loop_entries = line_plan_opcodes.analyse(code)
        lines = {instruction.offset: line_plan_opcodes.line_of(instruction) for instruction in instructions}
        entry = (instructions, by_offset, floating, loop_entries, {}, lines)
        _plans[code] = entry
    return entry


def _step_plan(code, offset, line):
    instructions, by_offset, floating, loop_entries, plans, _ = code_plans(code)
    plan = line_plan.plan_step(instructions, by_offset, floating, loop_entries, offset, line)
    plans[offset] = plan
    return plan


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
        self.plans = code_plans(code)[4]
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
                        if len(short_steps) >= FLUSH_EVERY_SHORT_FIELDS:
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
            targets = None
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
                    value = line_plan_checks.resolve(path, lambda scope, name: _lookup(frame, variables, scope, name))
                if kind == _INERT:
                    if type(value) in _INERT_TYPES or line_plan_checks.is_inert(value):
                        continue
                    break
                if kind == _TARGET:
                    if type(value) in extra:
                        if targets is None:
                            targets = [id(value)]
                        else:
                            targets.append(id(value))
                        continue
                    break
                if not line_plan_checks.check(kind, value, extra):
                    break
            else:
                if plan.may_enter:
                    self.safe_loops.difference_update(plan.may_enter)
                    self.safe_loops.update(plan.enters)
                if targets is not None:
                    return names + self._showing(targets, names)
                return names
        if plan.may_enter:
            self.safe_loops.difference_update(plan.may_enter)
        return None

    def _showing(self, targets, names):
        """The variables besides `names` whose last repr reached one of the containers `targets`
        (ids), or that may show anything: the ones a store into those containers can change."""
        showing = []
        for name, entry in self.snapshot.items():
            if entry[0] is _MUTABLE and name not in names:
                reached = entry[2]
                if reached is None:
                    showing.append(name)
                else:
                    for target in targets:
                        if target in reached:
                            showing.append(name)
                            break
        return tuple(showing)

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
            if len(tracer.short_steps) >= FLUSH_EVERY_SHORT_FIELDS:
                tracer.flush()
            return
        self.step_output = None
        output_json = _encode(b"".join(output).decode("utf-8", "replace"))
        tracer.pending.append('[%d,"line",%d,%d,%s,%s,null,null,%s]' % (
            index, self.step_line, self.depth, self.function_json, changes, output_json))
        if len(tracer.pending) >= FLUSH_EVERY_STEPS:
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
                        snapshot[name] = (value, "", ())
                        continue
                    text = self.tracer.budget.repr(value)
                snapshot[name] = _entry(value, text, self.tracer.budget)
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
                    # A mutable value's repr may be the same while it now reaches other containers.
                    snapshot[name] = _entry(value, text, budget)
                    continue
                changes.append("[%s,\"m\",%s]" % (_encode(name), _encode(text)))
            else:
                added += 1
                if name in _HIDDEN_NAMES:
                    snapshot[name] = (value, "", ())
                    continue
                text = budget.repr(value)
                changes.append("[%s,\"n\",%s]" % (_encode(name), _encode(text)))
            snapshot[name] = _entry(value, text, budget)
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
                self.snapshot[name] = (value, "", ())
                continue
            text = budget.repr(value)
            self.snapshot[name] = _entry(value, text, budget)
            if not silently:
                changes.append("[%s,\"n\",%s]" % (_encode(name), _encode(text)))
        return "[" + ",".join(changes) + "]"


def _entry(value, text, budget):
    """The snapshot entry of `value`, whose repr `budget` has just made as `text`."""
    return (value, text, ()) if type(value) in _IMMUTABLE else (_MUTABLE, text, budget.reached)


def _lookup(frame, variables, scope, name):
    """A name's value at a line event as the line's load instruction would find it (line_plan scopes)."""
    value = variables.get(name, _MISSING) if scope != _GLOBAL else _MISSING
    if value is _MISSING and scope != _LOCAL:
        value = frame.f_globals.get(name, _MISSING)
        if value is _MISSING:
            value = frame.f_builtins.get(name, _MISSING)
    return line_plan_checks.MISSING if value is _MISSING else value


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
