"""The tracer's events from sys.monitoring (PEP 669, Python 3.12+), the backend the tracer takes
where it can: see Monitoring."""

import sys

from tracer_frame import code_plans


class Monitoring:
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
        lines = code_plans(code)[5]
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
