"""The zygote: one pre-started interpreter per executor pool slot.

It imports the tracer and the modules programs commonly use once, then forks a fresh child per job,
so a run costs a fork instead of an interpreter start. Protocol on stdin/stdout, one JSON object per
line:

  in  {"job": {...child.run_job's job...}, "run_dir": str, "work_dir": str, "stdin_path": str}
  in  {"cancel": true}          kill the running job (ignored while idle)
  out {"ready": true, "python": "3.11.2"}                         once, after start-up
  out {"exit_code": int|null, "signal": str|null, "wall_ms": int, "cpu_ms": int,
       "max_rss_kb": int, "killed_for_wall_time": bool, "cancelled": bool}   once per job
  out {"error": str}            the job could not be started (the zygote itself carries on)

The zygote must survive every program: nothing a child does reaches this process except its exit
status, and every failure to start a child is reported as a line, never raised.
"""

import argparse
import json
import os
import resource
import select
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import child  # noqa: E402  (the tracer must be importable before any job arrives)

# Imported here so that a program importing them pays nothing: the forked child inherits them.
import bisect, collections, copy, datetime, decimal, fractions, functools, heapq  # noqa: E401,E402,F401
import itertools, json, math, operator, random, re, statistics, string  # noqa: E401,E402,F401

try:
    import numpy  # noqa: F401
except ImportError:
    pass

TRACE_FD = 3
# Time the child gets past its wall deadline to run its own SIGALRM handler and flush its trace.
GRACE_MS = 300
# A program's fixed environment (contract.md); HOME, TMPDIR and OUTPUT_PATH point into its work dir.
BASE_ENV = {
    'PATH': '/usr/local/bin:/usr/bin:/bin',
    'LANG': 'C.UTF-8',
    'PYTHONHASHSEED': '0',
    'PYTHONIOENCODING': 'utf-8',
}
PR_SET_NO_NEW_PRIVS = 38


class LineReader:
    """Lines from a raw fd, so that poll() on the fd tells the truth (no hidden buffered lines)."""

    def __init__(self, fd):
        self.fd = fd
        self.buffer = b''
        self.eof = False

    def pending(self):
        return b'\n' in self.buffer

    def fill(self):
        data = os.read(self.fd, 65536)
        if data:
            self.buffer += data
        else:
            self.eof = True

    def take(self):
        """A complete line if one is buffered, else None."""
        if b'\n' not in self.buffer:
            return None
        line, self.buffer = self.buffer.split(b'\n', 1)
        return line

    def read_line(self):
        while True:
            line = self.take()
            if line is not None or self.eof:
                return line
            self.fill()


def emit(message):
    os.write(1, (json.dumps(message) + '\n').encode())


def set_no_new_privs():
    # A setuid binary reached through exec must not give the sandbox user its privileges back.
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def open_at(fd_wanted, path, flags, mode=0o600):
    fd = os.open(path, flags, mode)
    if fd != fd_wanted:
        os.dup2(fd, fd_wanted)
        os.close(fd)


def become_child(request, uid, gid):
    """Runs in the forked child: the preconditions of child.run_job (contract.md), then the job."""
    job = request['job']
    run_dir = request['run_dir']
    work_dir = request['work_dir']
    os.setsid()
    create = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    open_at(0, request['stdin_path'], os.O_RDONLY)
    open_at(1, os.path.join(run_dir, 'stdout'), create)
    open_at(2, os.path.join(run_dir, 'stderr'), create)
    open_at(TRACE_FD, os.path.join(run_dir, 'trace'), create)
    os.closerange(TRACE_FD + 1, os.sysconf('SC_OPEN_MAX'))
    os.chdir(work_dir)
    os.environ.clear()
    os.environ.update(BASE_ENV)
    os.environ.update({
        'HOME': work_dir,
        'TMPDIR': work_dir,
        'OUTPUT_PATH': os.path.join(work_dir, 'output.txt'),
    })
    limits = request['rlimits']
    cpu_s = max(1, -(-job['cpu_time_ms'] // 1000))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits['address_space_bytes'],) * 2)
    fsize = job['trace_bytes'] + job['output_bytes'] + 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits['open_files'],) * 2)
    set_no_new_privs()
    if uid is not None:
        # One uid per slot: RLIMIT_NPROC=1 then forbids fork however many other slots are running.
        resource.setrlimit(resource.RLIMIT_NPROC, (1, 1))
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    child.run_job(job, TRACE_FD)


def sweep_uid(uid):
    """SIGKILLs every process of the slot's uid: anything a program left behind after its group died."""
    if uid is None:
        return
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/status', 'rb') as status:
                for line in status:
                    if line.startswith(b'Uid:'):
                        if int(line.split()[1]) == uid:
                            os.kill(int(entry), signal.SIGKILL)
                        break
        except (OSError, ValueError):
            continue


def kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


class Waiter:
    """Waits for one child: its exit, its wall deadline, a cancel line on stdin, or stdin closing."""

    def __init__(self, pid, reader):
        self.pid = pid
        self.reader = reader
        self.poller = select.poll()
        self.pidfd = None
        try:
            self.pidfd = os.pidfd_open(pid)
            self.poller.register(self.pidfd, select.POLLIN)
        except (AttributeError, OSError):
            pass  # Kernels or Pythons without pidfds: poll with a short timeout instead.
        if not reader.eof:
            self.poller.register(reader.fd, select.POLLIN)

    def close(self):
        if self.pidfd is not None:
            os.close(self.pidfd)

    def reaped(self):
        pid, status, usage = os.wait4(self.pid, os.WNOHANG)
        return (status, usage) if pid == self.pid else None

    def wait(self, deadline):
        """(status, rusage, killed_for_wall_time, cancelled)."""
        killed_for_wall_time = False
        cancelled = self.reader.eof
        if cancelled:
            kill_group(self.pid)
        kill_at = deadline + GRACE_MS / 1000
        while True:
            done = self.reaped()
            if done is not None:
                return done + (killed_for_wall_time, cancelled)
            now = time.monotonic()
            if now >= kill_at and not killed_for_wall_time and not cancelled:
                killed_for_wall_time = True
                kill_group(self.pid)
            timeout_s = max(0.0, kill_at - now) if not (killed_for_wall_time or cancelled) else 0.05
            if self.pidfd is None:
                timeout_s = min(timeout_s, 0.005)
            for fd, _ in self.poller.poll(timeout_s * 1000):
                if fd == self.reader.fd and not self.reader.eof:
                    self.reader.fill()
                    if self.reader.eof:
                        self.poller.unregister(self.reader.fd)
                        cancelled = True
                        kill_group(self.pid)
            while True:
                line = self.reader.take()
                if line is None:
                    break
                if json.loads(line).get('cancel') and not killed_for_wall_time:
                    cancelled = True
                    kill_group(self.pid)


def run_one(request, reader, uid, gid):
    started = time.monotonic()
    deadline = started + request['job']['wall_time_ms'] / 1000
    try:
        pid = os.fork()
    except OSError as error:
        emit({'error': f'fork failed: {error}'})
        return
    if pid == 0:
        try:
            become_child(request, uid, gid)
        except BaseException as error:  # noqa: BLE001  (the child must end here whatever happened)
            try:
                os.write(2, f'tracestream sandbox: {type(error).__name__}: {error}\n'.encode())
            finally:
                os._exit(125)
        os._exit(125)
    waiter = Waiter(pid, reader)
    try:
        status, usage, killed_for_wall_time, cancelled = waiter.wait(deadline)
    finally:
        waiter.close()
    wall_ms = round((time.monotonic() - started) * 1000)
    kill_group(pid)
    sweep_uid(uid)
    exit_code = os.waitstatus_to_exitcode(status)
    emit({
        'exit_code': exit_code if exit_code >= 0 else None,
        'signal': signal.Signals(-exit_code).name if exit_code < 0 else None,
        'wall_ms': wall_ms,
        'cpu_ms': round((usage.ru_utime + usage.ru_stime) * 1000),
        'max_rss_kb': usage.ru_maxrss,
        'killed_for_wall_time': killed_for_wall_time,
        'cancelled': cancelled,
    })


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--uid', type=int, default=None)
    parser.add_argument('--gid', type=int, default=None)
    args = parser.parse_args()
    reader = LineReader(0)
    emit({'ready': True, 'python': '.'.join(map(str, sys.version_info[:3]))})
    while True:
        line = reader.read_line()
        if line is None:
            return
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError as error:
            emit({'error': f'bad request: {error}'})
            continue
        if 'job' not in request:
            continue  # A cancel that arrived after its job had already ended.
        run_one(request, reader, args.uid, args.gid)

if __name__ == '__main__':
    main()
