"""One run's process and files around the program: set up in the forked child before the job
(`become_child`: fds, environment, rlimits, the slot's uid, the box), and taken apart by the
zygote after it (`export_output`, `unmount_run_disk`, `lock_run_dir`).
"""

import os
import resource
import signal
import stat

import box
import child

TRACE_FD = 3
# Boxed, the program (pid 1 of its pid namespace) writes here the signal it dies of (child.py).
SIGNAL_FD = 4
# A program's fixed environment (README, Sandbox); HOME, TMPDIR and OUTPUT_PATH are set per run.
BASE_ENV = {
    'PATH': '/usr/local/bin:/usr/bin:/bin',
    'LANG': 'C.UTF-8',
    'PYTHONHASHSEED': '0',
    'PYTHONIOENCODING': 'utf-8',
}


def open_at(fd_wanted, path, flags, mode=0o600):
    fd = os.open(path, flags, mode)
    if fd != fd_wanted:
        os.dup2(fd, fd_wanted)
        os.close(fd)


def read_source(path):
    with open(path, 'rb') as source:
        return source.read().decode('utf-8', 'surrogateescape')


def become_child(request, uid, skeleton, signal_pipe, seccomp_filter):
    """Runs in the forked child: what child.run_job relies on (own session; stdin, stdout, stderr and
    TRACE_FD on the run's files; a scrubbed environment; rlimits; the slot's uid; boxed: its own
    namespaces and file system, `skeleton` being the box's tree), then the job."""
    job = dict(request['job'])
    run_dir = request['run_dir']
    work_dir = request['work_dir']
    os.setsid()
    # If the zygote dies (killed as hung, say), its run dies with it: nothing outlives the slot's claim.
    box.prctl(box.PR_SET_PDEATHSIG, signal.SIGKILL)
    create = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    open_at(0, request['stdin_path'], os.O_RDONLY)
    open_at(1, os.path.join(run_dir, 'stdout'), create)
    open_at(2, os.path.join(run_dir, 'stderr'), create)
    open_at(TRACE_FD, os.path.join(run_dir, 'trace'), create)
    if signal_pipe is not None:
        os.dup2(signal_pipe[1], SIGNAL_FD)
    os.closerange((SIGNAL_FD if signal_pipe is not None else TRACE_FD) + 1, os.sysconf('SC_OPEN_MAX'))
    job['source'] = read_source(request['source_path'])
    box.set_command_line()
    if skeleton is not None:
        box.enter(skeleton, work_dir)
        home = box.WORK_DIR
        os.chdir(home)
        paths = {'HOME': home, 'TMPDIR': '/tmp', 'OUTPUT_PATH': os.path.join(home, 'output.txt')}
        job['writable_dirs'] = box.WRITABLE_DIRS
    else:
        home = work_dir
        os.chdir(home)
        paths = {'HOME': home, 'TMPDIR': home, 'OUTPUT_PATH': os.path.join(home, 'output.txt')}
    os.environ.clear()
    os.environ.update(BASE_ENV)
    os.environ.update(paths)
    limits = request['rlimits']
    cpu_s = max(1, -(-job['cpu_time_ms'] // 1000))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits['address_space_bytes'],) * 2)
    fsize = job['trace_bytes'] + job['output_bytes'] + 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits['open_files'],) * 2)
    box.prctl(box.PR_SET_NO_NEW_PRIVS, 1)  # a setuid binary must not give the sandbox user privileges back
    if uid is not None:
        if skeleton is None:
            os.chown(work_dir, uid, uid)
        # The slot's uid is claimed by this slot alone, so this bounds the run's processes and threads.
        resource.setrlimit(resource.RLIMIT_NPROC, (limits['processes'],) * 2)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    if seccomp_filter is not None:
        box.load_filter(seccomp_filter)
    child.run_job(job, TRACE_FD, SIGNAL_FD if signal_pipe is not None else None)


def export_output(request, limit_bytes):
    """Copies the run's OUTPUT_PATH file (its first limit_bytes + 1 bytes, enough to tell it went
    past the limit) from the run's tmpfs to <run_dir>/output, in the kernel: the zygote never holds
    a job's output. The program controls that file: a symlink, a FIFO or a socket there is skipped."""
    try:
        source = os.open(os.path.join(request['work_dir'], 'work', 'output.txt'), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return
    try:
        size = os.fstat(source).st_size
        if not stat.S_ISREG(os.fstat(source).st_mode):
            return
        target = os.open(os.path.join(request['run_dir'], 'output'), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            offset, left = 0, min(size, limit_bytes + 1)
            while left > 0:
                sent = os.sendfile(target, source, offset, left)
                if sent == 0:
                    break
                offset += sent
                left -= sent
        finally:
            os.close(target)
    finally:
        os.close(source)


def unmount_run_disk(request):
    try:
        box.umount(request['work_dir'])
    except OSError:
        pass  # never mounted


def lock_run_dir(run_dir):
    """Once the slot's uid runs nothing, its next program must not reach this run's files (0711 -> 0700)."""
    try:
        os.chmod(run_dir, 0o700)
    except OSError:
        pass  # Gone already: nothing left to protect.
