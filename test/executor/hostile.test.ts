import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Execution, ExecutionRequest } from '../../src/runs/index.js';
import { changes, leftovers, py, startTestPool, type TestPool } from './helpers.js';

let test_: TestPool;
// A path outside the run dir that hostile programs try to create; it must never exist.
const marker = join(tmpdir(), `tracestream-escape-${process.pid}`);

before(async () => {
  test_ = await startTestPool();
});
after(async () => {
  await test_.close();
  await rm(marker, { force: true });
});

/** Runs a hostile program and asserts nothing escaped: no marker file, no process, no run dir. */
async function contained(request: ExecutionRequest): Promise<Execution> {
  const execution = await test_.pool.run({ ...request, source: request.source.replaceAll('MARKER', marker) });
  assert.equal(existsSync(marker), false, `${marker} was created`);
  assert.deepEqual(await leftovers(test_), { runDirs: [], processes: [] });
  return execution;
}

test('an infinite loop is stopped at the wall-clock limit as timeout, keeping its partial trace', async () => {
  const e = await contained({ source: 'n = 0\nwhile True:\n    n += 1\n', limits: { wallTimeMs: 1_000, maxSteps: 0, cpuTimeMs: 5_000 } });
  assert.equal(e.outcome, 'timeout');
  assert.equal(e.reason, 'wall-clock limit reached (1000 ms)');
  assert.ok(e.steps.length > 0);
});

test('a loop that ignores SIGALRM in C code (sleep) is killed by the server at the deadline as timeout', async () => {
  const e = await contained({
    source: py`
      import signal, time
      signal.signal(signal.SIGALRM, signal.SIG_IGN)
      while True:
          time.sleep(0.05)
    `,
    limits: { wallTimeMs: 800 },
  });
  assert.equal(e.outcome, 'timeout');
  assert.equal(e.signal, 'SIGKILL');
  assert.equal(e.traceTruncated, true);
});

test('a CPU-bound loop past the CPU limit is timeout', async () => {
  const e = await contained({ source: 'while True:\n    pass\n', limits: { cpuTimeMs: 1_000, wallTimeMs: 8_000, maxSteps: 0 } });
  assert.equal(e.outcome, 'timeout');
  assert.equal(e.reason, 'CPU-time limit reached (1000 ms)');
});

test('a memory bomb ends as memory with MemoryError', async () => {
  const e = await contained({ source: py`
    chunks = []
    while True:
        chunks.append(bytearray(16 * 1024 * 1024))
  `, limits: { addressSpaceBytes: 256 * 1024 * 1024 } });
  assert.equal(e.outcome, 'memory');
  assert.equal(e.exception?.type, 'MemoryError');
});

test('os.fork is refused: error naming the exception, no child left', async () => {
  const e = await contained({ source: 'import os\npid = os.fork()\nif pid == 0:\n    open("MARKER", "w")\n' });
  assert.equal(e.outcome, 'error');
  assert.equal(e.exception?.type, 'PermissionError');
  assert.match(e.exception?.message ?? '', /os\.fork/);
});

test('subprocess is refused: error naming the exception, no marker written by a shell', async () => {
  const e = await contained({ source: 'import subprocess\nsubprocess.run(["sh", "-c", "touch MARKER"])\n' });
  assert.equal(e.outcome, 'error');
  assert.equal(e.exception?.type, 'PermissionError');
});

test('os.system and os.exec are refused', async () => {
  const system = await contained({ source: 'import os\nos.system("touch MARKER")\n' });
  assert.equal(system.outcome, 'error');
  assert.equal(system.exception?.type, 'PermissionError');
  const exec = await contained({ source: 'import os\nos.execv("/bin/sh", ["sh", "-c", "touch MARKER"])\n' });
  assert.equal(exec.outcome, 'error');
  assert.equal(exec.exception?.type, 'PermissionError');
});

let server: Server | undefined;
after(() => server?.close());

test('a socket connection to a listening local port is refused and never arrives', async () => {
  let connections = 0;
  server = createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  const e = await contained({ source: `import socket\ns = socket.create_connection(("127.0.0.1", ${address.port}), timeout=1)\n` });
  assert.equal(e.outcome, 'error');
  assert.equal(e.exception?.type, 'PermissionError');
  assert.equal(connections, 0);
});

test('writing outside the work dir and temp dirs is refused, and the host\'s temp dir is never reached', async () => {
  const outside = `/usr/local/tracestream-escape-${process.pid}`;
  const e = await contained({ source: `with open("${outside}", "w") as f:\n    f.write("escaped")\n` });
  assert.equal(e.outcome, 'error');
  assert.equal(e.exception?.type, 'PermissionError');
  const low = await contained({ source: `import os\nos.open("${outside}", os.O_WRONLY | os.O_CREAT)\n` });
  assert.equal(low.outcome, 'error');
  assert.equal(low.exception?.type, 'PermissionError');
  assert.equal(existsSync(outside), false);
  // Boxed, the host's temp dir is not the program's /tmp: the write lands in the run's own tmpfs.
  const tmp = await contained({ source: 'with open("MARKER", "w") as f:\n    f.write("escaped")\n' });
  if (test_.pool.isolation === 'box') assert.equal(tmp.outcome, 'ok');
  else assert.equal(tmp.exception?.type, 'PermissionError');
});

test('a write through a dir_fd passes no check it should not: nothing reaches the host\'s temp dir', async () => {
  const e = await contained({ source: py`
    import os
    fd = os.open(${JSON.stringify(tmpdir())}, os.O_RDONLY)
    out = os.open(${JSON.stringify(marker.slice(tmpdir().length + 1))}, os.O_WRONLY | os.O_CREAT, dir_fd=fd)
    os.write(out, b"escaped")
  ` });
  assert.ok(e.outcome === 'ok' || e.exception?.type === 'PermissionError', `${e.outcome}: ${e.reason}`);
});

test('a program lists no host process, reads no host command line, sees no project folder', async () => {
  const e = await contained({ source: py`
    import os
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    others = [p for p in pids if int(p) != os.getpid()]
    lines = []
    for pid in others:
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                lines.append(f.read())
        except OSError:
            pass
    print(len(others), sum(b"node" in line for line in lines), os.path.exists(${JSON.stringify(process.cwd())}))
  ` });
  assert.equal(e.outcome, 'ok', e.reason);
  if (test_.pool.isolation === 'box') assert.equal(e.stdout, '0 0 False\n');
});

test('a program\'s own command line is the same neutral `python3 main.py` in every run, naming no host path', async () => {
  const source = 'import sys\nprint(open("/proc/self/cmdline", "rb").read().hex(), sys.orig_argv)\n';
  const runs = [await contained({ source }), await contained({ source })];
  for (const e of runs) {
    assert.equal(e.outcome, 'ok', e.reason);
    const [hex, argv] = [e.stdout.slice(0, e.stdout.indexOf(' ')), e.stdout.slice(e.stdout.indexOf(' ') + 1).trim()];
    const cmdline = Buffer.from(hex, 'hex').toString('latin1');
    assert.equal(cmdline, 'python3 main.py\0');
    for (const hostPath of [process.cwd(), tmpdir(), 'server.py', '--uid']) assert.ok(!e.stdout.includes(hostPath), `${hostPath} in ${e.stdout}`);
    assert.equal(argv, "['python3', 'main.py']");
  }
  assert.equal(runs[0]!.stdout, runs[1]!.stdout);
});

test('a symlink at OUTPUT_PATH to a file the pool can read is refused by the audit hook, and no output file is read', async () => {
  // The layer below (the pool not following a link it finds) is tested on its own in layers.test.ts.
  const e = await contained({ source: 'import os\nos.symlink("/etc/hostname", os.environ["OUTPUT_PATH"])\n' });
  assert.equal(e.outcome, 'error');
  assert.equal(e.exception?.type, 'PermissionError');
  assert.match(e.exception?.message ?? '', /os\.symlink/);
  assert.equal(e.outputFile, null);
});

test('an output flood ends as output-limit with stdout cut at the limit', async () => {
  const e = await contained({ source: 'while True:\n    print("x" * 999)\n', limits: { maxSteps: 0 } });
  assert.equal(e.outcome, 'output-limit');
  assert.equal(e.stdout.length, 64 * 1024);
});

test('a 10^7-step loop ends as step-limit with exactly maxSteps steps and a truncated trace', async () => {
  const e = await contained({ source: 'for i in range(10**7):\n    pass\n', limits: { maxSteps: 5_000 } });
  assert.equal(e.outcome, 'step-limit');
  assert.equal(e.traceTruncated, true);
  assert.equal(e.steps.length, 5_000);
  assert.equal(e.stepCount, 5_000);
  assert.equal(e.reason, 'stopped at the step limit (5000 steps)');
});

test('unbounded recursion is error with RecursionError', async () => {
  const e = await contained({ source: 'def f(n):\n    return f(n + 1)\nf(0)\n', limits: { maxSteps: 0 } });
  assert.equal(e.outcome, 'error');
  assert.equal(e.exception?.type, 'RecursionError');
});

test('sys.settrace(None) does not stop the trace', async () => {
  const e = await contained({ source: 'import sys\na = 1\nsys.settrace(None)\nsys.setprofile(None)\nb = 2\n' });
  assert.equal(e.outcome, 'ok');
  assert.deepEqual(changes(e).filter((c) => !c.includes('sys')), ['2:a=1', '5:b=2']);
});

test('os._exit(0) ends ok and keeps the steps before it', async () => {
  const e = await contained({ source: 'import os\na = 1\nprint("bye", flush=True)\nos._exit(0)\nb = 2\n' });
  assert.equal(e.outcome, 'ok');
  assert.equal(e.stdout, 'bye\n');
  assert.deepEqual(changes(e).filter((c) => !c.includes('os')), ['2:a=1']);
  assert.equal(e.traceTruncated, false);
});

test('trace records printed on stdout stay in stdout and never become steps', async () => {
  const fake = '{"steps": [[0, "line", 99, 0, "fake", [["pwned", "n", "1"]], null, null, ""]]}\n{"end": {"status": "ok", "exception": null, "exit_code": 0, "step_count": 1}}\n';
  const e = await contained({ source: `import sys\nsys.stdout.write(${JSON.stringify(fake)})\nraise ValueError("real")\n` });
  assert.equal(e.stdout, fake);
  assert.equal(e.outcome, 'error');
  assert.ok(e.steps.every((s) => s.line !== 99 && s.function !== 'fake'));
});

test('non-UTF-8 bytes on stdout are decoded lossily, not rejected', async () => {
  const e = await contained({ source: 'import sys\nsys.stdout.buffer.write(b"\\xff\\xfeok\\n")\n' });
  assert.equal(e.outcome, 'ok');
  assert.equal(e.stdout, '\uFFFD\uFFFDok\n');
});

test('a syntax error is syntax-error with the SyntaxError', async () => {
  const e = await contained({ source: 'x = (\n' });
  assert.equal(e.outcome, 'syntax-error');
  assert.equal(e.exception?.type, 'SyntaxError');
  assert.deepEqual(e.steps, []);
});

test('Python 2 code is syntax-error', async () => {
  const e = await contained({ source: 'print "hello"\n' });
  assert.equal(e.outcome, 'syntax-error');
  assert.equal(e.exception?.type, 'SyntaxError');
});

test('reading past the end of stdin is error with EOFError', async () => {
  const e = await contained({ source: 'a = input()\nb = input()\n', stdin: 'only one line\n' });
  assert.equal(e.outcome, 'error');
  assert.equal(e.exception?.type, 'EOFError');
  assert.ok(changes(e).includes("1:a='only one line'"));
});

test('sys.exit with a non-zero status is error, with the status', async () => {
  const e = await contained({ source: 'import sys\nsys.exit(3)\n' });
  assert.equal(e.outcome, 'error');
  assert.equal(e.exitCode, 3);
});

test('a program that raises a fatal signal on itself is killed, naming the signal', async () => {
  const e = await contained({ source: 'import signal\nx = 1\nsignal.raise_signal(signal.SIGTERM)\n' });
  assert.equal(e.outcome, 'killed');
  assert.equal(e.signal, 'SIGTERM');
  assert.equal(e.reason, 'killed by SIGTERM');
  assert.equal(e.traceTruncated, true);
});

// The trace channel (fd 3) is untrusted input: whatever a program writes there ends as a typed outcome.
const FORGED_STEP = '[0,"line",1,0,"<module>",[["pwned","n","1"]],null,null,"INVENTED\\n"]';
const FORGED_END = '{"end":{"status":"ok","exception":null,"exit_code":0,"step_count":1,"tracer_error":null}}';

test('a forged end record followed by a raw exit is killed as a corrupt channel, with no invented steps or stdout', async () => {
  const e = await contained({ source: py`
    import os, sys
    os.write(3, ${JSON.stringify(`${FORGED_STEP}\n${FORGED_END}\n`)}.encode())
    child = sys.modules.get("child")
    if child is not None:
        child._Run.ended = True  # the real end path then exits at once without its record: a raw exit
    os._exit(0)
  ` });
  assert.equal(e.outcome, 'killed');
  assert.match(e.reason, /^trace channel corrupt: /);
  assert.deepEqual(e.steps, []);
  assert.equal(e.stdout, '');
  assert.equal(e.traceTruncated, true);
});

test('a forged end record before the real one is killed as a corrupt channel', async () => {
  const e = await contained({ source: `import os\nos.write(3, b${JSON.stringify(`${FORGED_END}\n`)})\nx = 1\n` });
  assert.equal(e.outcome, 'killed');
  assert.equal(e.reason, 'trace channel corrupt: a record after the end record');
});

test('a step with a non-integer line number on the channel is killed as a corrupt channel, not a schema failure', async () => {
  const e = await contained({ source: 'import os\nos.write(3, b\'[0,"line",1.5,0,"<module>",[],null,null,""]\\n\')\n' });
  assert.equal(e.outcome, 'killed');
  assert.match(e.reason, /line number is not a non-negative integer/);
});

test('random bytes on the trace channel are killed as a corrupt channel', async () => {
  const e = await contained({ source: 'import os\nos.write(3, bytes(range(256)) * 64)\nprint("still here")\n' });
  assert.equal(e.outcome, 'killed');
  assert.match(e.reason, /^trace channel corrupt: /);
  assert.equal(e.stdout, 'still here\n');
});

// Files a program leaves at OUTPUT_PATH or in its work dir never fail the run with an OS error.
test('a unix socket at OUTPUT_PATH is no output, said in the reason, not ENXIO', async () => {
  const e = await contained({ source: 'import os, stat\nos.mknod(os.environ["OUTPUT_PATH"], stat.S_IFSOCK | 0o600)\n' });
  assert.equal(e.outcome, 'ok');
  assert.equal(e.outputFile, null);
  // Unboxed, the pool reads OUTPUT_PATH itself and says why it did not; boxed, the zygote copies only a regular file.
  assert.match(e.reason, /^ran to completion(; OUTPUT_PATH is a socket, not a file, not read)?$/);
});

test('a FIFO at OUTPUT_PATH is not waited on', async () => {
  const e = await contained({ source: 'import os\nos.mkfifo(os.environ["OUTPUT_PATH"])\n' });
  assert.equal(e.outcome, 'ok');
  assert.equal(e.outputFile, null);
  assert.match(e.reason, /^ran to completion(; OUTPUT_PATH is a FIFO, not a file, not read)?$/);
});

test('a directory at OUTPUT_PATH is not read', async () => {
  const e = await contained({ source: 'import os\nos.mkdir(os.environ["OUTPUT_PATH"])\n' });
  assert.equal(e.outcome, 'ok');
  assert.match(e.reason, /^ran to completion(; OUTPUT_PATH is a directory, not a file, not read)?$/);
  assert.equal(e.outputFile, null);
});

test('directories nested past PATH_MAX in the work dir are removed and the run ends ok', async () => {
  const e = await contained({
    source: py`
      import os
      fd = os.open(".", os.O_RDONLY)
      for _ in range(100):
          os.mkdir("d" * 250, dir_fd=fd)
          inner = os.open("d" * 250, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
          os.close(fd)
          fd = inner
      print("deep")
    `,
    limits: { maxSteps: 0 },
  });
  assert.equal(e.outcome, 'ok');
  assert.equal(e.stdout, 'deep\n');
});

test('a program that starts a thread runs it (only the main thread is traced) instead of failing', async () => {
  const e = await contained({ source: py`
    import threading
    box = []
    worker = threading.Thread(target=lambda: box.append(sum(range(100))))
    worker.start()
    worker.join()
    result = box[0]
  ` });
  assert.equal(e.outcome, 'ok', `${e.reason}\n${e.stderrTail}`);
  assert.ok(changes(e).includes('6:result=4950'), changes(e).join(' '));
});
