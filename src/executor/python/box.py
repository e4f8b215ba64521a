"""The kernel's half of the sandbox: namespaces, a private file system, a seccomp filter.

As root, each run is a process tree of its own, built the way ioi/isolate, nsjail and bubblewrap
build a box, at the cost of about one fork:

  zygote (the slot's network namespace and a private mount namespace; it never reads job data)
    |  per slot: the box's skeleton, read-only (`build_skeleton`)
    |  per run:  a fresh tmpfs capped in bytes and inodes on the run's work dir (`mount_run_disk`)
    `- clone3(new pid, mount, IPC and UTS namespaces) -> the program: pid 1 of its own pid
       namespace; it binds the run's tmpfs into the skeleton, pivots into it, mounts its /proc
       (`enter`), drops to the slot uid, loads the seccomp filter (`load_filter`), reads its job

What a program sees (the same paths in every run, so the same program gives the same trace):
  /usr /etc            the host's, read-only; /bin /lib ... as the host's symlinks
  /dev                 null zero full random urandom, and fd stdin stdout stderr links
  /proc                its own pid namespace: itself and its threads
  /sandbox             the work dir: cwd, HOME, OUTPUT_PATH=/sandbox/output.txt
  /tmp /dev/shm        TMPDIR and POSIX shared memory
The last three are one tmpfs, the run's disk: its size and inode caps bound what a run writes.
Nothing else is writable, and nothing else of the host (the project, other runs, /home, /run,
/var, /sys) is there. When pid 1 ends, the kernel kills everything left in its pid namespace; the
mount and IPC namespaces, with every file and SysV object of the run, end with it.
"""

import ctypes
import errno
import os
import platform
import signal

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
_NAMESPACE_FLAGS = (CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET)
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
_SYSCALLS = {'x86_64': {'pivot_root': 155}, 'aarch64': {'pivot_root': 41}}.get(platform.machine())
_SYS_CLONE3 = 435  # the same on every architecture

WORK_DIR = '/sandbox'
HOSTNAME = b'sandbox'
# The run's disk: dirs of the per-run tmpfs and where the program sees them.
_RUN_DISK = (('work', WORK_DIR, 0o700), ('tmp', '/tmp', 0o1777), ('shm', '/dev/shm', 0o1777))
WRITABLE_DIRS = tuple(target for _name, target, _mode in _RUN_DISK)
_DEVICES = ('null', 'zero', 'full', 'random', 'urandom')
_READ_ONLY_TREES = ('usr', 'etc')
_TOP_LEVEL = ('bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32')

_libc = ctypes.CDLL(None, use_errno=True)
# Holds the GIL through the call, as os.fork does: the clone must not race another Python thread.
_libc_gil = ctypes.PyDLL(None, use_errno=True)
_libc_gil.syscall.restype = ctypes.c_long


def _check(result, what):
    if result < 0:
        number = ctypes.get_errno()
        raise OSError(number, f'{what}: {os.strerror(number)}')
    return result


def _bytes(path):
    return None if path is None else os.fsencode(path)


def prctl(option, value):
    return _check(_libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0), f'prctl({option})')


def mount(source, target, fstype, flags, data=None):
    _check(_libc.mount(_bytes(source), _bytes(target), _bytes(fstype), ctypes.c_ulong(flags), _bytes(data)), f'mount {target}')


def umount(target):
    _check(_libc.umount2(_bytes(target), MNT_DETACH), f'umount {target}')


def available():
    """Whether this process can build boxes: root, on an architecture whose syscalls we know."""
    return os.geteuid() == 0 and _SYSCALLS is not None


def private_mounts():
    """In the zygote, once: a mount namespace of its own, so nothing it mounts reaches the host."""
    _check(_libc.unshare(CLONE_NEWNS), 'unshare')
    mount(None, '/', None, MS_REC | MS_PRIVATE)


def _bind_read_only(source, target):
    mount(source, target, None, MS_BIND)
    mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def build_skeleton(root):
    """In the zygote, once per slot: the box's read-only tree on the directory `root`."""
    os.makedirs(root, mode=0o700, exist_ok=True)
    mount('tmpfs', root, 'tmpfs', MS_NOSUID | MS_NODEV, 'size=1m,nr_inodes=256,mode=0755')
    for name in _READ_ONLY_TREES:
        os.mkdir(f'{root}/{name}')
        _bind_read_only(f'/{name}', f'{root}/{name}')
    for name in _TOP_LEVEL:
        host = f'/{name}'
        if os.path.islink(host):
            os.symlink(os.readlink(host), f'{root}/{name}')
        elif os.path.isdir(host):
            os.mkdir(f'{root}/{name}')
            _bind_read_only(host, f'{root}/{name}')
    for name in ('proc', 'dev', 'tmp', WORK_DIR.lstrip('/')):
        os.mkdir(f'{root}/{name}')
    os.mkdir(f'{root}/dev/shm')
    for name in _DEVICES:
        open(f'{root}/dev/{name}', 'wb').close()
        mount(f'/dev/{name}', f'{root}/dev/{name}', None, MS_BIND)
    for name, target in (('fd', '/proc/self/fd'), ('stdin', '/proc/self/fd/0'), ('stdout', '/proc/self/fd/1'), ('stderr', '/proc/self/fd/2')):
        os.symlink(target, f'{root}/dev/{name}')
    mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def mount_run_disk(path, uid, disk_bytes, disk_files):
    """In the zygote, per run: a fresh tmpfs on `path` (the run dir's work/), capped, with the dirs
    the program sees as its work dir, /tmp and /dev/shm. The zygote unmounts it after the run."""
    mount('tmpfs', path, 'tmpfs', MS_NOSUID | MS_NODEV, f'size={disk_bytes},nr_inodes={disk_files},mode=0700')
    for name, _target, mode in _RUN_DISK:
        os.mkdir(f'{path}/{name}')
        os.chmod(f'{path}/{name}', mode)
    if uid is not None:
        os.chown(f'{path}/work', uid, uid)


def clone_into_namespaces():
    """os.fork, but the child is pid 1 of new pid, mount, IPC and UTS namespaces (one syscall, so a
    run costs one fork). Returns the child's pid in the parent, 0 in the child."""
    flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS
    # struct clone_args, first version: flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls.
    args = (ctypes.c_uint64 * 8)(flags, 0, 0, 0, signal.SIGCHLD, 0, 0, 0)
    ctypes.pythonapi.PyOS_BeforeFork()
    pid = _libc_gil.syscall(ctypes.c_long(_SYS_CLONE3), ctypes.byref(args), ctypes.c_size_t(ctypes.sizeof(args)))
    if pid == 0:
        ctypes.pythonapi.PyOS_AfterFork_Child()
        return 0
    number = ctypes.get_errno()
    ctypes.pythonapi.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(number, f'clone3: {os.strerror(number)}')
    return pid


def enter(skeleton, run_disk):
    """In the program's process (pid 1 of its namespaces, still root): the run's disk bound into
    the skeleton, pivot_root into it, the host's tree detached, its own /proc."""
    for name, target, _mode in _RUN_DISK:
        mount(f'{run_disk}/{name}', f'{skeleton}{target}', None, MS_BIND)
    os.chdir(skeleton)
    _check(_libc.syscall(_SYSCALLS['pivot_root'], b'.', b'.'), 'pivot_root')
    umount('.')  # the host's tree, which pivot_root stacked under the new root
    os.chdir('/')
    mount('proc', '/proc', 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _libc.sethostname(HOSTNAME, len(HOSTNAME))


class _SockFprog(ctypes.Structure):
    _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]


PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


def compile_filter():
    """In the zygote, once: the seccomp filter as BPF (compiling it costs milliseconds; loading the
    compiled program costs microseconds). What no HackerRank program needs fails with EPERM;
    clone3 with ENOSYS, so that threads fall back to clone, whose flags a filter can see.
    None when python3-seccomp is missing."""
    try:
        import seccomp
    except ImportError:
        return None
    refuse = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            rules.add_rule(refuse, name)
        except (RuntimeError, ValueError, OSError):
            pass  # not a syscall on this architecture
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), 'clone3')
    for flag in _NAMESPACE_FLAGS:  # a thread or a fork, never a new namespace
        rules.add_rule(refuse, 'clone', seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    # Sockets: only AF_UNIX (asyncio's self-pipe); the slot's network namespace has no interface anyway.
    for name in ('socket', 'socketpair'):
        rules.add_rule(refuse, name, seccomp.Arg(0, seccomp.NE, 1))
    read, write = os.pipe()
    try:
        with os.fdopen(write, 'wb') as sink:
            rules.export_bpf(sink)
        with os.fdopen(read, 'rb') as source:
            read = -1
            return source.read()
    finally:
        if read >= 0:
            os.close(read)


COMMAND_LINE = b'python3 main.py'


def _argument_area():
    """Where the kernel reads /proc/<pid>/cmdline from: the argument strings on the process's
    first stack (arg_start and arg_end, fields 48 and 49 of /proc/self/stat; after the command
    name, which may hold spaces and parentheses)."""
    with open('/proc/self/stat', 'rb') as stat:
        fields = stat.read().rsplit(b')', 1)[1].split()
    return int(fields[48 - 3]), int(fields[49 - 3])


# The zygote's, inherited unchanged by every process it forks.
_ARGUMENT_AREA = _argument_area()


def set_command_line():
    """In the program's process: its /proc/self/cmdline reads `python3 main.py`, not the zygote's
    (whose path names the project's folder, and whose uid range differs between pools). The
    argument strings are overwritten in place, as setproctitle does: the text, a NUL, zeros, and a
    last byte that is not NUL, which makes the kernel return only what precedes the first NUL, so
    neither the old text nor the area's length shows. Needs no capability (PR_SET_MM_ARG_START
    would need CAP_SYS_RESOURCE, which containers drop)."""
    start, end = _ARGUMENT_AREA
    text = COMMAND_LINE + b'\0'
    if end - start < len(text) + 1:
        raise OSError(errno.ENOSPC, f'the argument area ({end - start} bytes) cannot hold {COMMAND_LINE!r}')
    ctypes.memmove(start, text + b'\0' * (end - start - len(text) - 1) + b' ', end - start)


def load_filter(program):
    """In the program's process, after the privilege drop and PR_SET_NO_NEW_PRIVS: loads the
    compiled filter, for this process and every thread it starts."""
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), 'seccomp')


DENIED_SYSCALLS = (
    # other processes' memory and the kernel's own state
    'ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp', 'pidfd_getfd', 'perf_event_open', 'bpf',
    'userfaultfd', 'keyctl', 'add_key', 'request_key', 'lookup_dcookie', 'syslog', 'acct', 'quotactl',
    'io_uring_setup', 'io_uring_enter', 'io_uring_register', 'fanotify_init', 'name_to_handle_at', 'open_by_handle_at',
    # the box itself
    'mount', 'umount2', 'pivot_root', 'chroot', 'unshare', 'setns', 'move_mount', 'open_tree', 'fsopen',
    'fsconfig', 'fsmount', 'fspick', 'mount_setattr', 'sethostname', 'setdomainname',
    # the machine
    'reboot', 'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'swapon', 'swapoff',
    'settimeofday', 'clock_settime', 'clock_adjtime', 'adjtimex', 'iopl', 'ioperm', 'vhangup', 'personality',
)
