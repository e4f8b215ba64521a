import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, before, test } from 'node:test';
import type { Execution } from '../../src/runs/index.js';
import { leftovers, py, startTestPool, type TestPool } from './helpers.js';

// The kernel's layer alone: these pools run programs without the audit hooks (ctypes and all), so
// whatever they show is held by the namespaces, the file system, the uid and the seccomp filter.
let bare: TestPool;
const root = process.getuid?.() === 0;
const BOXED = { skip: !root && 'needs root (the box is built as root)' };

before(async () => {
  // One slot: consecutive runs share the slot's zygote and uid, as an attacker's runs would.
  bare = await startTestPool({ concurrency: 1, auditHooks: false });
});
after(async () => {
  await bare.close();
});

async function run(source: string, stdin = ''): Promise<Execution> {
  const execution = await bare.pool.run({ source, stdin, limits: { maxSteps: 0 } });
  assert.deepEqual(await leftovers(bare), { runDirs: [], processes: [] });
  return execution;
}

function lines(execution: Execution): string[] {
  assert.equal(execution.outcome, 'ok', `${execution.reason}\n${execution.stderrTail}`);
  return execution.stdout.trim().split('\n');
}

const SECRET = 'tracestream-secret-';
/** What the next run looks for: anything matching /tracestream-secret-[0-9a-f]{32}/ (which its own source does not). */
const SEARCH = py`
  import ctypes, os, re
  pattern = re.compile(rb"${SECRET}[0-9a-f]{32}")
  found = []
  libc = ctypes.CDLL(None, use_errno=True)
  libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: /proc/self/mem becomes ours to read
  def look(where, data):
      if pattern.search(data):
          found.append(where)
  with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
      for line in maps:
          fields = line.split()
          if "r" not in fields[1] or fields[-1] in ("[vvar]", "[vsyscall]"):
              continue
          start, end = (int(x, 16) for x in fields[0].split("-"))
          try:
              mem.seek(start)
              look("memory " + (fields[5] if len(fields) > 5 else "anonymous"), mem.read(end - start))
          except (OSError, ValueError, OverflowError):
              pass
  for folder in ("/tmp", "/dev/shm", "/sandbox", "/"):
      for name in os.listdir(folder):
          path = os.path.join(folder, name)
          if os.path.isfile(path):
              with open(path, "rb") as f:
                  look(path, f.read(1 << 20))
  libc.shmat.restype = ctypes.c_void_p
  with open("/proc/sysvipc/shm") as segments:
      ids = [int(line.split()[1]) for line in list(segments)[1:]]
  for shmid in ids:
      address = libc.shmat(shmid, None, 0)
      if address not in (None, ctypes.c_void_p(-1).value):
          look("sysv shm %d" % shmid, ctypes.string_at(address, 4096))
  for pid in (p for p in os.listdir("/proc") if p.isdigit()):
      with open("/proc/%s/cmdline" % pid, "rb") as f:
          look("/proc/%s/cmdline" % pid, f.read())
  print("ipc", len(ids), "found", sorted(set(found)))
`;

test('a run finds nothing of the previous run in its memory, /tmp, /dev/shm, work dir, SysV IPC or /proc', BOXED, async () => {
  const secret = `${SECRET}${randomBytes(16).toString('hex')}`;
  const leave = py`
    import ctypes, os
    secret = ${JSON.stringify(secret)} + input()
    for path in ("/tmp/left", "/dev/shm/left", os.environ["OUTPUT_PATH"]):
        with open(path, "w") as f:
            f.write(secret)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    shmid = libc.shmget(0x7472, 4096, 0o1777)
    assert shmid >= 0, os.strerror(ctypes.get_errno())
    address = libc.shmat(shmid, None, 0)
    ctypes.memmove(address, secret.encode(), len(secret))
    print(secret)
  `;
  const first = await run(leave, '\n');
  assert.equal(first.stdout, `${secret}\n`, first.stderrTail);
  assert.equal(first.outputFile, secret);
  const [report] = lines(await run(SEARCH));
  assert.equal(report, 'ipc 0 found []');
});

test('writes through a dir_fd land in the run\'s own tmpfs or fail on the read-only tree, and none outlives the run', BOXED, async () => {
  const name = `tracestream-dirfd-${process.pid}`;
  const write = py`
    import os
    for folder in ("/tmp", "/", "/usr", "/etc", "/proc"):
        fd = os.open(folder, os.O_RDONLY)
        try:
            out = os.open("${name}", os.O_WRONLY | os.O_CREAT, dir_fd=fd)
            os.write(out, b"x")
            print(folder, "written")
        except OSError as error:
            print(folder, error.strerror)
  `;
  assert.deepEqual(lines(await run(write)), [
    '/tmp written', '/ Read-only file system', '/usr Read-only file system', '/etc Read-only file system', '/proc No such file or directory',
  ]);
  assert.equal(existsSync(`${tmpdir()}/${name}`), false);
  assert.equal(existsSync(`/usr/${name}`) || existsSync(`/etc/${name}`) || existsSync(`/${name}`), false);
  assert.deepEqual(lines(await run(`import os\nprint(os.listdir("/tmp"))\n`)), ['[]']);
});

test('a program sees only its own process (pid 1) and none of the host\'s folders', BOXED, async () => {
  const project = process.cwd();
  const look = py`
    import os, threading
    print(os.getpid(), sorted(p for p in os.listdir("/proc") if p.isdigit()))
    print(sorted(os.listdir("/")))
    print([os.path.exists(p) for p in (${JSON.stringify(project)}, ${JSON.stringify(tmpdir())} + "/tracestream-box-probe", "/root", "/home", "/run", "/var", "/sys")])
  `;
  const [pids, top, exists] = lines(await run(look));
  assert.equal(pids, "1 ['1']");
  assert.equal(top, "['bin', 'dev', 'etc', 'lib', 'lib64', 'proc', 'sandbox', 'sbin', 'tmp', 'usr']".replace(/'lib64', /, readdirSync('/').includes('lib64') ? "'lib64', " : ''));
  assert.equal(exists, '[False, False, False, False, False, False, False]');
});

test('the seccomp filter refuses what no program needs even with ctypes at hand', BOXED, async () => {
  const probe = py`
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    def errno_of(result):
        return os.strerror(ctypes.get_errno()) if result == -1 else "allowed"
    print("unshare", errno_of(libc.unshare(0x20000)))
    print("mount", errno_of(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)))
    print("ptrace", errno_of(libc.ptrace(16, 1, None, None)))
    print("socket inet", errno_of(libc.socket(2, 1, 0)))
    print("socket unix", "allowed" if libc.socket(1, 1, 0) >= 0 else "refused")
  `;
  assert.deepEqual(lines(await run(probe)), [
    'unshare Operation not permitted', 'mount Operation not permitted', 'ptrace Operation not permitted',
    'socket inet Operation not permitted', 'socket unix allowed',
  ]);
});

test('a run\'s disk is capped in bytes and files', BOXED, async () => {
  const fill = py`
    import errno, os
    written = 0
    try:
        while True:  # files of 1 MiB: each below the file-size limit, together past the disk cap
            with open("big%d" % written, "wb") as f:
                f.write(b"x" * (1 << 20))
            written += 1
    except OSError as error:
        print("bytes", errno.errorcode[error.errno], written < 100)
    for n in range(written + 1):
        os.remove("big%d" % n)
    count = 0
    try:
        while True:
            open("/tmp/f%d" % count, "w").close()
            count += 1
    except OSError as error:
        print("files", errno.errorcode[error.errno], count < 5000)
  `;
  assert.deepEqual(lines(await run(fill)), ['bytes ENOSPC True', 'files ENOSPC True']);
});

test('a program that starts threads runs them', async () => {
  const threads = py`
    import threading
    results = []
    workers = [threading.Thread(target=lambda n=n: results.append(n * n)) for n in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    total = sum(results)
    print(total)
  `;
  const e = await bare.pool.run({ source: threads });
  assert.equal(e.outcome, 'ok', `${e.reason}\n${e.stderrTail}`);
  assert.equal(e.stdout, '140\n');
  assert.ok(e.steps.some((s) => s.changes.some((c) => c.name === 'total' && c.value === '140')));
});

test('the same programs traced twice, by two pools, give byte-identical executions (timings apart)', async () => {
  const programs = [
    py`
      import os
      fptr = open(os.environ['OUTPUT_PATH'], 'w')
      n = int(input())
      fptr.write(str(n * 2) + '\n')
      fptr.close()
    `,
    py`
      import os, tempfile
      where = (os.getcwd(), os.environ['HOME'], tempfile.gettempdir(), os.getpid(), os.getppid())
      print(where)
    `,
    py`
      class Node:
          def __init__(self, value):
              self.value = value
      nodes = [Node(i) for i in range(3)]
      handle = open('scratch.txt', 'w')
      raise ValueError(str(handle))
    `,
  ];
  const twice = await startTestPool({ concurrency: 2 });
  try {
    const strip = ({ wallTimeMs: _w, cpuTimeMs: _c, runId: _r, ...rest }: Execution) => JSON.stringify(rest);
    const first = await Promise.all(programs.map((source) => bare.pool.run({ source, stdin: '21\n' })));
    const second = await Promise.all(programs.map((source) => twice.pool.run({ source, stdin: '21\n' })));
    assert.deepEqual(first.map((e) => e.outcome), ['ok', 'ok', 'error']);
    assert.deepEqual(second.map(strip), first.map(strip));
    if (bare.pool.isolation === 'box') {
      assert.match(first[0]!.steps.map((s) => s.changes.map((c) => c.value).join()).join(), /name='\/sandbox\/output.txt'/);
      assert.equal(first[1]!.stdout, "('/sandbox', '/sandbox', '/tmp', 1, 0)\n");
    }
  } finally {
    await twice.close();
  }
});
