"""The sandbox's second layer: an audit hook (PEP 578) that refuses, in the program's own
interpreter, what the kernel's layer (box.py) also stops. It gives a clear PermissionError where
the kernel would give a bare EPERM or EROFS, and it still holds where no box can be built.

It keeps no state the program can reach or change: every value it uses is bound as a default
argument when the hook is made (immutable: strings, ints, frozensets, builtin functions), it reads
no global name and no module attribute (a program can rebind those, or monkeypatch os.path), and
nothing switches it off. It refuses what would let a program get at it: the garbage collector's
object lists (the only way to the hook function), building functions from code objects, and
replacing a function's code or defaults.

Paths are checked lexically against the work dir (symlinks are the kernel's business). A program
that makes the tracer itself trace this hook's frames could still rewrite its locals through
frame.f_locals; the kernel's layer is the boundary, this one is a hint.
"""

import os
import posix
import sys

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_BLOCKED_EVENTS = frozenset([
    "os.system", "os.fork", "os.forkpty", "os.kill", "os.killpg", "os.startfile", "os.chroot",
    "os.setuid", "os.setgid", "os.setreuid", "os.setregid", "os.setresuid", "os.setresgid",
    "resource.setrlimit", "resource.prlimit", "signal.pthread_kill", "webbrowser.open",
    "gc.get_objects", "gc.get_referrers", "gc.get_referents", "function.__new__", "code.__new__",
    "sys.setprofile", "sys.addaudithook",
])
_BLOCKED_PREFIXES = ("socket.", "subprocess.", "os.exec", "os.spawn", "os.posix_spawn", "ctypes.", "pty.", "_posixsubprocess.")
_ALLOWED = frozenset(["socket.gethostname"])
# Audit events that touch paths, by which of their arguments are paths that must stay in the work dir.
_FIRST_PATH = frozenset([
    "os.mkdir", "os.rmdir", "os.remove", "os.chmod", "os.chown", "os.truncate", "os.utime", "os.mkfifo",
    "os.mknod", "os.chflags", "os.lchmod", "os.setxattr", "os.removexattr", "shutil.rmtree", "shutil.chown",
])
_BOTH_PATHS = frozenset(["os.rename", "os.link", "os.symlink", "shutil.move"])
_SECOND_PATH = frozenset(["shutil.copyfile", "shutil.copymode", "shutil.copystat"])
_FUNCTION_STATE = frozenset(["__code__", "__defaults__", "__kwdefaults__", "__globals__", "__closure__"])


def make_hook(writable_dirs, trace_fd, switch_tracer_code):
    """The hook for a run that may write in `writable_dirs` (absolute, no symlinks) and whose
    trace channel is `trace_fd`. `switch_tracer_code` is the code of the one function that may call
    sys.settrace (the tracer's own switch; it installs nothing but the tracer)."""

    def tracestream_audit_hook(
        event, args, *,
        _roots=tuple(writable_dirs), _prefixes=tuple(d.rstrip("/") + "/" for d in writable_dirs), _trace_fd=trace_fd, _switch=switch_tracer_code,
        _blocked=_BLOCKED_EVENTS, _blocked_prefixes=_BLOCKED_PREFIXES, _allowed=_ALLOWED,
        _first=_FIRST_PATH, _both=_BOTH_PATHS, _second=_SECOND_PATH, _function_state=_FUNCTION_STATE,
        _write_flags=_WRITE_FLAGS, _type=type, _len=len, _str=str, _bytes=bytes, _int=int,
        _decode=bytes.decode, _fspath=os.fspath, _getcwd=posix.getcwd, _getframe=sys._getframe,
        _error=PermissionError, _function=type(make_hook),
    ):
        def refuse(what, detail):
            raise _error("tracestream sandbox: %s is not allowed (%s)" % (what, detail))

        def inside(path):
            if _type(path) is _int:
                return path != _trace_fd
            if _type(path) is not _str and _type(path) is not _bytes:
                path = _fspath(path)
            if _type(path) is _bytes:
                path = _decode(path, "utf-8", "surrogateescape")
            if not path.startswith("/"):
                path = _getcwd() + "/" + path
            parts = []
            for part in path.split("/"):
                if part == "..":
                    if parts:
                        parts.pop()
                elif part and part != ".":
                    parts.append(part)
            full = "/" + "/".join(parts)
            return full in _roots or full.startswith(_prefixes)

        if event == "open":
            path, _mode, flags = args
            if _type(path) is _int:
                if path == _trace_fd:
                    refuse("opening the trace channel", path)
            elif flags & _write_flags and not inside(path):
                refuse("writing outside the work dir and temp dirs", path)
        elif event in _first or event in _both or event in _second:
            positions = (0,) if event in _first else (0, 1) if event in _both else (1,)
            for position in positions:
                if position < _len(args) and args[position] is not None and not inside(args[position]):
                    refuse(event, args[position])
        elif event == "sys.settrace":
            if _getframe(1).f_code is not _switch:
                refuse(event, "the tracer owns it")
        elif event == "object.__setattr__":
            if _type(args[0]) is _function and args[1] in _function_state:
                refuse("replacing a function's " + args[1], "the sandbox's own functions must stay as they are")
        elif event in _allowed:
            return
        elif event in _blocked or event.startswith(_blocked_prefixes):
            refuse(event, "no network, subprocesses, process control or interpreter internals in a traced run")

    return tracestream_audit_hook
