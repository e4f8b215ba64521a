"""A slot's zygote's own resources, claimed once at start-up: its sandbox uid (a lock no other
zygote on this host holds, so no other pool runs programs as it or sweeps its processes) and, as
root, the box's read-only skeleton that every run of the slot is built on (box.py).
"""

import fcntl
import os
import signal

import box

# Where slots claim their uids: one lock file per uid, shared by every pool on the host.
UID_LOCK_DIRS = ('/run/lock', '/tmp')


def claim_uid(first, count):
    """The first uid of first..first+count-1 whose lock no other zygote on this host holds.

    The lock (a non-blocking exclusive flock) lives as long as this process: no other pool's zygote
    runs programs as this uid, or sweeps its processes, while we hold it. Returns None when every
    uid is taken."""
    lock_dir = next((d for d in UID_LOCK_DIRS if os.path.isdir(d)), None)
    if lock_dir is None:
        return None
    for uid in range(first, first + count):
        path = os.path.join(lock_dir, f'tracestream-uid-{uid}.lock')
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return uid  # fd stays open (and locked) until this process ends
    return None


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


def start_box(uid):
    """(the skeleton's path, None), or (None, why not) when this host does not let us build boxes."""
    if not box.available():
        return None, 'not root, or an architecture whose syscall numbers box.py does not know'
    try:
        box.private_mounts()
        skeleton = os.path.join(next(d for d in UID_LOCK_DIRS if os.path.isdir(d)), f'tracestream-box-{uid}')
        box.build_skeleton(skeleton)
        return skeleton, None
    except OSError as error:
        return None, str(error)
