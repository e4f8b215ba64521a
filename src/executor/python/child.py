"""Runs one program inside the process the server forked for it, already sandboxed at the process
level (uid, rlimits, own session, scrubbed environment, fds 0/1/2 on capture files). Here we add
what only the interpreter can do: the stdout tee that credits output to trace steps, audit hooks
that refuse network, subprocesses and writes outside the work dir, the guard that keeps the program
from switching the tracer off, and the handlers that flush the trace when a limit ends the run.

The process always ends through `_end`, which writes the end record and calls the real `os._exit`.
"""

import builtins
import gc
import io
import linecache
import os
import platform
import posix
import signal
import sys
import threading
import traceback
import types

import audit
import tracer as tracing
from tracer_reprs import exception_info

_real_exit = os._exit
_FLUSH_OUTPUT_BYTES = 64 * 1024
class _Run:
    """Everything `_end` needs, set once by run_job."""

    trace_fd = -1
    tracer = None
    stdout = None
    ended = False
    trace = True


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except InterruptedError:
            continue
        except OSError:
            return False
        view = view[written:]
    return True


def _record(obj):
    if _Run.trace_fd >= 0:
        _write_all(_Run.trace_fd, (tracing.json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8", "surrogatepass"))


def _finalize_program():
    """What interpreter shutdown would do for the program: drop its globals so that its files
    (an unclosed OUTPUT_PATH file, a re-wrapped sys.stdout) are flushed and closed."""
    try:
        main = sys.modules.get("__main__")
        if main is not None:
            main.__dict__.clear()
        gc.collect()
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def _end(status, exit_code, exception=None, frame=None, finalize=False):
    """Flushes the partial trace and the program's output, writes the end record and exits.
    `finalize` is for a program that ended by itself (not os._exit, not a limit)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGXCPU})
    if _Run.ended:
        _real_exit(exit_code)
    _Run.ended = True
    try:
        if _Run.tracer is not None:
            _Run.tracer.finish(frame if frame is not None else sys._getframe(1))
        if finalize:
            _finalize_program()
        if _Run.stdout is not None:
            _Run.stdout.drain()
        _record({"end": {
            "status": status,
            "exception": exception,
            "exit_code": exit_code,
            "step_count": _Run.tracer.next_index if _Run.tracer is not None else 0,
            "tracer_error": _Run.tracer.internal_error if _Run.tracer is not None else None,
        }})
    finally:
        _real_exit(exit_code)


class OutputTee(io.BufferedIOBase):
    """sys.stdout's binary layer: counts and forwards bytes to fd 1 and credits them to the running
    trace step. Text written through sys.stdout reaches it at once (write_through), so the credit
    goes to the line that printed."""

    def __init__(self, fd, limit_bytes, on_write):
        super().__init__()
        self._fd = fd
        self._limit = limit_bytes
        self._on_write = on_write
        self._pending = []
        self._pending_bytes = 0
        self.total_bytes = 0

    def writable(self):
        return True

    def fileno(self):
        return self._fd

    def isatty(self):
        return False

    def write(self, data):
        if self.closed:
            raise ValueError("write to closed file")
        data = bytes(data)
        size = len(data)
        if self.total_bytes + size > self._limit:
            allowed = data[: self._limit - self.total_bytes]
            self._keep(allowed)
            self.drain()
            _end("output-limit", 1, ["OutputLimitExceeded", "stdout exceeded %d bytes" % self._limit])
        self._keep(data)
        return size

    def _keep(self, data):
        self.total_bytes += len(data)
        if self._on_write is not None:
            self._on_write(data)
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= _FLUSH_OUTPUT_BYTES:
            self.drain()

    def drain(self):
        if self._pending:
            data = b"".join(self._pending)
            self._pending = []
            self._pending_bytes = 0
            _write_all(self._fd, data)

    def flush(self):
        if self.closed:
            raise ValueError("flush of closed file")
        self.drain()

    def close(self):
        if not self.closed:
            self.drain()
        super().close()


def _install_streams(output_bytes, on_write):
    stdin = io.open(0, "r", encoding="utf-8", newline="\n", closefd=False)
    tee = OutputTee(1, output_bytes, on_write)
    stdout = io.TextIOWrapper(tee, encoding="utf-8", errors="strict", newline="\n", write_through=True)
    stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace", newline="\n", line_buffering=True)
    sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = stdin, stdout, stderr
    return tee


def _install_audit_hook(writable_dirs, trace_fd):
    writable = [os.path.realpath(d) for d in writable_dirs]
    sys.addaudithook(audit.make_hook(writable, trace_fd, _switch_tracer.__code__))


def _switch_tracer(function, _real_settrace=sys.settrace):
    """The tracer's own sys.settrace: the one caller the audit hook lets through. It installs
    nothing but the run's tracer (or nothing), whoever calls it."""
    tracer = _Run.tracer
    if function is None or (tracer is not None and function == tracer.global_trace):
        _real_settrace(function)


def _guard_tracer():
    """The program may call these; they must not switch the tracer off or skip the end record."""

    def settrace(function):
        return None

    def exit_now(status):
        _end("exit", status if isinstance(status, int) else 1, frame=sys._getframe(1))

    sys.settrace = settrace
    sys.setprofile = settrace
    if _Run.tracer is not None and _Run.tracer.monitoring is not None:
        sys.monitoring = _GuardedMonitoring(sys.monitoring, _Run.tracer.monitoring)
    threading.settrace = settrace
    threading.setprofile = settrace
    os._exit = exit_now
    posix._exit = exit_now


class _GuardedMonitoring(types.SimpleNamespace):
    """sys.monitoring as the program sees it: every function works, except on the tracer's own
    tool id, which the program can neither switch off nor take over."""

    def __init__(self, real, owner):
        super().__init__(**{name: getattr(real, name) for name in dir(real) if not name.startswith("__")})

        def guard(name):
            function = getattr(real, name)

            def guarded(tool, *args):
                if owner.owns(tool):
                    raise ValueError("tracestream: sys.monitoring tool %d is in use by the tracer" % tool)
                return function(tool, *args)

            guarded.__name__ = name
            return guarded

        for name in ("use_tool_id", "free_tool_id", "clear_tool_id", "register_callback", "set_events", "set_local_events"):
            if hasattr(real, name):
                setattr(self, name, guard(name))


def _install_limit_handlers():
    def on_wall_time(signum, frame):
        _end("timeout", 1, ["TimeoutError", "wall-clock limit reached"], frame)

    def on_cpu_time(signum, frame):
        _end("cpu-timeout", 1, ["TimeoutError", "CPU-time limit reached"], frame)

    signal.signal(signal.SIGALRM, on_wall_time)
    signal.signal(signal.SIGXCPU, on_cpu_time)


# Signals that end a process by default and that Python leaves at SIG_DFL (not the synchronous
# fault signals: a Python-level handler for those would re-run the faulting instruction forever).
_FATAL_SIGNALS = tuple(
    getattr(signal, name) for name in (
        "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGABRT", "SIGTRAP", "SIGVTALRM",
        "SIGPROF", "SIGSYS", "SIGSTKFLT", "SIGPWR", "SIGIO",
    ) if hasattr(signal, name)
) + tuple(range(signal.SIGRTMIN, signal.SIGRTMAX + 1))


def _die_of_signals_as_pid_1(signal_fd):
    """Boxed, the program is pid 1 of its pid namespace, which the kernel never kills with a signal
    it has no handler for. So it dies as it would elsewhere: the handler tells the zygote which
    signal (which it then reports) and exits at once, like the kill would, without an end record."""

    def die(signum, frame, _write=os.write, _exit=_real_exit, _fd=signal_fd):
        try:
            _write(_fd, bytes([signum]))
        finally:
            _exit(128 + signum)

    for signum in _FATAL_SIGNALS:
        try:
            signal.signal(signum, die)
        except (OSError, ValueError):
            pass


def _program_traceback(error, filename):
    """The traceback Python itself would print for the program: our own frames left out."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb))


def _exit_status_of(error):
    code = error.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write(str(code) + "\n")
    except BaseException:
        pass
    return 1


def _main_module(filename):
    module = types.ModuleType("__main__")
    module.__file__ = filename
    module.__builtins__ = builtins
    module.__loader__ = None
    module.__spec__ = None
    sys.modules["__main__"] = module
    return module.__dict__


def run_job(job, trace_fd, signal_fd=None):
    """Compiles and runs `job["source"]`; never returns. `signal_fd`: where pid 1 of a box tells
    the zygote of the signal it dies of."""
    _Run.trace_fd = trace_fd
    _Run.trace = bool(job.get("trace", True))
    filename = job.get("filename") or "main.py"

    sys.dont_write_bytecode = True
    sys.argv = [filename]
    sys.orig_argv = ["python3", filename]  # not the zygote's command line
    sys.path[0:1] = [os.getcwd()]

    if _Run.trace:
        _Run.tracer = tracing.Tracer(
            filename,
            lambda data: _write_all(trace_fd, data),
            max_steps=int(job.get("max_steps", 0)),
            trace_bytes=int(job.get("trace_bytes", 2 * 1024 * 1024)),
            repr_chars=int(job.get("repr_chars", 200)),
            backend=job.get("tracer_backend", "auto"),
            full_frame=bool(job.get("full_frame", False)),
        )
        _Run.tracer.settrace = _switch_tracer
        _Run.tracer.on_limit = lambda reason: _end(reason, 1, frame=sys._getframe(2))
    _record({"start": {
        "tracer": tracing.TRACER_VERSION,
        "python": platform.python_version(),
        "backend": _Run.tracer.backend if _Run.tracer is not None else None,
    }})
    _Run.stdout = _install_streams(int(job.get("output_bytes", 1 << 20)), _Run.tracer.record_output if _Run.tracer else None)
    _install_limit_handlers()
    if signal_fd is not None:
        _die_of_signals_as_pid_1(signal_fd)
    wall_ms = int(job.get("wall_time_ms", 0))
    if wall_ms > 0:
        signal.setitimer(signal.ITIMER_REAL, wall_ms / 1000.0)

    try:
        code = compile(job["source"], filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as error:
        sys.stderr.write("".join(traceback.format_exception_only(type(error), error)))
        _end("syntax-error", 1, exception_info(error))

    linecache.cache[filename] = (len(job["source"]), None, job["source"].splitlines(True), filename)
    namespace = _main_module(filename)
    _guard_tracer()
    if job.get("audit_hook", True):
        _install_audit_hook(job.get("writable_dirs") or [os.getcwd()], trace_fd)
    try:
        if _Run.tracer is not None:
            _Run.tracer.attach()
        exec(code, namespace)
    except SystemExit as error:
        status = _exit_status_of(error)
        _end("exit", status, None if status == 0 else exception_info(error), finalize=True)
    except MemoryError as error:
        _end("memory", 1, exception_info(error), finalize=_print_traceback(error, filename))
    except BaseException as error:
        _end("exception", 1, exception_info(error), finalize=_print_traceback(error, filename))
    _end("ok", 0, finalize=True)


def _print_traceback(error, filename):
    try:
        sys.stderr.write(_program_traceback(error, filename))
    except BaseException:
        pass
    return True
