/**
 * Each layer of the sandbox on its own, below the audit hook (which refuses sockets, forks and
 * writes outside the work dir first, so hostile.test.ts never reaches the layers under it).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chown, link, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readProgramFile } from '../../src/executor/run-dir.js';
import { py, startTestPool, type TestPool } from './helpers.js';

const isRoot = process.getuid?.() === 0;

describe('the network namespace (unshare -n), seen by a program', () => {
  let test_: TestPool;
  before(async () => {
    test_ = await startTestPool({ concurrency: 1 });
  });
  after(() => test_.close());

  test('a program sees no network interface but loopback', async (t) => {
    if (test_.pool.networkIsolation !== 'namespace') {
      t.skip('the pool could not create network namespaces here (not root, or unshare -n refused)');
      return;
    }
    // Reading /proc/net/dev raises no audit event the hook refuses: what it lists is the namespace's.
    const e = await test_.pool.run({ source: py`
      with open("/proc/net/dev") as f:
          names = sorted(line.split(":")[0].strip() for line in f.readlines()[2:])
      print(names)
    ` });
    assert.equal(e.outcome, 'ok', e.reason);
    assert.equal(e.stdout, "['lo']\n");
  });
});

describe('the per-slot process limit, seen by a program', () => {
  let test_: TestPool;
  before(async () => {
    test_ = await startTestPool({ concurrency: 1 });
  });
  after(() => test_.close());

  test('threads (tasks of the slot uid, which the audit hook lets through) stop at the process limit', async (t) => {
    if (!isRoot) {
      t.skip('programs run as a per-slot uid with a process limit only when the pool runs as root');
      return;
    }
    const e = await test_.pool.run({ source: py`
      import threading
      stop = threading.Event()
      started = 0
      try:
          for _ in range(10000):
              threading.Thread(target=stop.wait, daemon=True).start()
              started += 1
      except RuntimeError as error:
          print("refused after", started, type(error).__name__)
      stop.set()
    `, limits: { maxSteps: 0 } });
    assert.equal(e.outcome, 'ok', e.reason);
    const match = /^refused after (\d+) RuntimeError\n$/.exec(e.stdout);
    assert.ok(match !== null, `the kernel refused a thread: ${e.stdout}`);
    assert.ok(Number(match[1]) < 1000, `bounded well below the 10000 asked for: ${match[1]}`);
  });
});

describe("the pool's reading of the program's output file", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tracestream-output-file-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('a regular file is read, up to the limit, with its full size', async () => {
    await writeFile(join(dir, 'plain'), 'hello world');
    const file = await readProgramFile(join(dir, 'plain'), 5, undefined);
    assert.deepEqual(file && { text: file.bytes.toString(), size: file.size }, { text: 'hello', size: 11 });
  });

  test('a symlink to a file the pool can read is not followed', async () => {
    await writeFile(join(dir, 'secret'), 'secret');
    await symlink(join(dir, 'secret'), join(dir, 'link'));
    assert.equal(await readProgramFile(join(dir, 'link'), 100, undefined), null);
  });

  test('a FIFO is not waited on', async () => {
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    assert.equal(await readProgramFile(join(dir, 'fifo'), 100, undefined), null);
  });

  test("a hard link to a file the program does not own is not read", async (t) => {
    if (!isRoot) {
      t.skip('needs root to give the file another owner');
      return;
    }
    await writeFile(join(dir, 'theirs'), 'not yours');
    await chown(join(dir, 'theirs'), 0, 0);
    await link(join(dir, 'theirs'), join(dir, 'hardlink'));
    assert.equal(await readProgramFile(join(dir, 'hardlink'), 100, { uid: 61_999, gid: 61_999 }), null);
    assert.notEqual(await readProgramFile(join(dir, 'hardlink'), 100, { uid: 0, gid: 0 }), null, 'read when the owner matches');
  });
});
