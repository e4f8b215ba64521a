"""The zygote: one pre-started interpreter per executor pool slot.

It imports the tracer and the modules programs commonly use once, then forks a fresh child per job,
so a run costs a fork instead of an interpreter start. Protocol on stdin/stdout, one JSON object per
line:

  in  {"id": int, "job": {...child.run_job's job, less its source...}, "source_path": str,
       "run_dir": str, "work_dir": str, "stdin_path": str, "rlimits": {...}}
  in  {"cancel": id}            kill that job if it runs, drop it if it waits
  in  {"withdraw": id}          drop that job if it waits (a running job carries on)
  out {"ready": true, "python": "3.11.2", "uid": int|null, "boxed": bool, "box_error": str|null}
                                once, after start-up
  out {"id": id, "exit_code": int|null, "signal": str|null, "wall_ms": int, "cpu_ms": int,
       "max_rss_kb": int, "killed_for_wall_time": bool, "cancelled": bool, "boxed": bool}
                                once per job run; when boxed, the run's OUTPUT_PATH file (its first
                                output_bytes + 1 bytes) was copied to <run_dir>/output
  out {"id": id, "withdrawn": true}   a dropped job: it never started
  out {"id": id, "error": str}  the job could not be started (the zygote itself carries on)
  A cancel or withdraw for a job that already ended is ignored.

Jobs run one at a time, in the order they arrived. The pool sends a slot's next job while the
current one runs, so the next fork follows the last exit at once, however busy the pool's own
process is at that moment.

The zygote must survive every program: nothing a child does reaches this process except its exit
status, and every failure to start a child is reported as a line, never raised.

It never reads a job's data (source, stdin, output): the child opens its source and stdin after
the fork, and a run's output file is copied by the kernel (sendfile). So no run's process inherits
memory that held another job's data. As root it runs each program in a box (box.py).
"""

import argparse
import collections
import gc
import json
import os
import select
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import box  # noqa: E402
import run_box  # noqa: E402  (imports child, and with it the tracer: importable before any job arrives)
import slot  # noqa: E402

# Imported here so that a program importing them pays nothing: the forked child inherits them.
import bisect, collections, copy, datetime, decimal, fractions, functools, heapq  # noqa: E401,E402,F401
import itertools, json, math, operator, random, re, statistics, string  # noqa: E401,E402,F401

try:
    import numpy  # noqa: F401
except ImportError:
    pass

# The seccomp filter, compiled once (box.compile_filter); None without python3-seccomp.
SECCOMP_FILTER = None
# Time the child gets past its wall deadline to run its own SIGALRM handler and flush its trace.
GRACE_MS = 300


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


def kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


class Inbox:
    """The requests on stdin: jobs wait here in arrival order; cancels and withdrawals act at once."""

    def __init__(self, reader):
        self.reader = reader
        self.waiting = collections.deque()
        self.running_id = None
        self.cancel_running = False

    def handle(self, line):
        if not line.strip():
            return
        try:
            request = json.loads(line)
        except ValueError as error:
            emit({'error': f'bad request: {error}'})
            return
        if 'job' in request:
            self.waiting.append(request)
        elif 'cancel' in request or 'withdraw' in request:
            job_id = request.get('cancel', request.get('withdraw'))
            if 'cancel' in request and job_id == self.running_id:
                self.cancel_running = True
            elif self.drop(job_id):
                emit({'id': job_id, 'withdrawn': True})

    def drop(self, job_id):
        for request in self.waiting:
            if request.get('id') == job_id:
                self.waiting.remove(request)
                return True
        return False

    def take_lines(self):
        while True:
            line = self.reader.take()
            if line is None:
                return
            self.handle(line)

    def next_job(self):
        """The next job to run, reading stdin until one arrives; None once stdin closed."""
        while not self.waiting:
            line = self.reader.read_line()
            if line is None:
                return None
            self.handle(line)
        return self.waiting.popleft()


class Waiter:
    """Waits for one child: its exit, its wall deadline, a cancel of it on stdin, or stdin closing."""

    def __init__(self, pid, inbox):
        self.pid = pid
        self.inbox = inbox
        self.reader = inbox.reader
        self.poller = select.poll()
        self.pidfd = None
        try:
            self.pidfd = os.pidfd_open(pid)
            self.poller.register(self.pidfd, select.POLLIN)
        except (AttributeError, OSError):
            pass  # Kernels or Pythons without pidfds: poll with a short timeout instead.
        if not self.reader.eof:
            self.poller.register(self.reader.fd, select.POLLIN)

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
            self.inbox.take_lines()
            if self.inbox.cancel_running and not killed_for_wall_time and not cancelled:
                cancelled = True
                kill_group(self.pid)


def run_one(request, inbox, uid, skeleton):
    job_id = request.get('id')
    started = time.monotonic()
    deadline = started + request['job']['wall_time_ms'] / 1000
    signal_pipe = None
    try:
        if skeleton is not None:
            limits = request['rlimits']
            box.mount_run_disk(request['work_dir'], uid, limits['disk_bytes'], limits['disk_files'])
        signal_pipe = os.pipe() if skeleton is not None else None
        pid = box.clone_into_namespaces() if skeleton is not None else os.fork()
    except OSError as error:
        if skeleton is not None:
            run_box.unmount_run_disk(request)
        for fd in signal_pipe or ():
            os.close(fd)
        emit({'id': job_id, 'error': f'fork failed: {error}'})
        return
    if pid == 0:
        try:
            run_box.become_child(request, uid, skeleton, signal_pipe, SECCOMP_FILTER)
        except BaseException as error:  # noqa: BLE001  (the child must end here whatever happened)
            try:
                os.write(2, f'tracestream sandbox: {type(error).__name__}: {error}\n'.encode())
            finally:
                os._exit(125)
        os._exit(125)
    if signal_pipe is not None:
        os.close(signal_pipe[1])
    inbox.running_id = job_id
    inbox.cancel_running = False
    waiter = Waiter(pid, inbox)
    try:
        status, usage, killed_for_wall_time, cancelled = waiter.wait(deadline)
    finally:
        waiter.close()
        inbox.running_id = None
    wall_ms = round((time.monotonic() - started) * 1000)
    kill_group(pid)
    if skeleton is not None:
        # pid 1 of the run's pid namespace is gone, so is every process in it: nothing to sweep.
        run_box.export_output(request, request['job']['output_bytes'])
        run_box.unmount_run_disk(request)
    else:
        slot.sweep_uid(uid)
    run_box.lock_run_dir(request['run_dir'])
    exit_code = os.waitstatus_to_exitcode(status)
    if signal_pipe is not None:
        exit_code = signal_of_pid_1(signal_pipe[0], exit_code)
    emit({
        'id': job_id,
        'exit_code': exit_code if exit_code >= 0 else None,
        'signal': signal.Signals(-exit_code).name if exit_code < 0 else None,
        'wall_ms': wall_ms,
        'cpu_ms': round((usage.ru_utime + usage.ru_stime) * 1000),
        'max_rss_kb': usage.ru_maxrss,
        'killed_for_wall_time': killed_for_wall_time,
        'cancelled': cancelled,
        'boxed': skeleton is not None,
    })


def signal_of_pid_1(read_fd, exit_code):
    """The exit status as -signal when pid 1 said it died of that signal (and exited as it does)."""
    try:
        os.set_blocking(read_fd, False)
        said = os.read(read_fd, 1)
    except OSError:
        said = b''
    finally:
        os.close(read_fd)
    if said and exit_code == 128 + said[0] and said[0] in signal.Signals._value2member_map_:
        return -said[0]
    return exit_code


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--uid-first', type=int, default=None, help='claim a uid from this one up (as root)')
    parser.add_argument('--uid-count', type=int, default=1)
    parser.add_argument('--box', action='store_true', help='run each program in a box (needs root)')
    args = parser.parse_args()
    uid = None
    if args.uid_first is not None:
        uid = slot.claim_uid(args.uid_first, args.uid_count)
        if uid is None:
            sys.stderr.write(f'no free sandbox uid in {args.uid_first}..{args.uid_first + args.uid_count - 1}: '
                             'every one is claimed by another executor on this host\n')
            sys.exit(2)
        # Ours now: whatever still runs as this uid was left by a zygote that died.
        slot.sweep_uid(uid)
    skeleton, box_error = None, None
    if uid is not None and args.box:
        skeleton, box_error = slot.start_box(uid)
    global SECCOMP_FILTER
    SECCOMP_FILTER = box.compile_filter()
    # What the zygote holds now is every run's inheritance: kept out of the collector, so that a
    # collection in a run (the one at its end, say) does not write to, and so copy, every page of it.
    gc.collect()
    gc.freeze()
    inbox = Inbox(LineReader(0))
    emit({'ready': True, 'python': '.'.join(map(str, sys.version_info[:3])), 'uid': uid,
          'boxed': skeleton is not None, 'box_error': box_error})
    try:
        while True:
            request = inbox.next_job()
            if request is None:
                return
            run_one(request, inbox, uid, skeleton)
    finally:
        slot.sweep_uid(uid)

if __name__ == '__main__':
    main()
