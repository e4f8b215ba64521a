import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseInterpreter } from '../../src/executor/index.js';
import { createRunDir } from '../../src/executor/run-dir.js';
import { Worker, type ZygoteRequest } from '../../src/executor/worker.js';

const root = process.getuid?.() === 0;
const NEEDS_ROOT = { skip: !root && 'needs root (per-slot uids)' };
// The range the worker claims its slot uid from (the first one no other executor on the host holds).
const sandboxUids = root ? { first: 63_900, count: 100 } : undefined;

/** A worker on a slot uid of its own, and run dirs under a parent the slot uid can search; both removed afterwards. */
async function withWorker(use: (worker: Worker, newRunDir: () => ReturnType<typeof createRunDir>) => Promise<void>): Promise<void> {
  const parent = await mkdtemp(join(tmpdir(), 'tracestream-worker-test-'));
  await chmod(parent, 0o711);
  // Unboxed: these tests look at the run dir's layout as the program sees it.
  const worker = new Worker({ interpreter: await chooseInterpreter(), sandboxUids, isolateNetwork: false, box: false });
  try {
    await use(worker, () => createRunDir(parent, '', ''));
  } finally {
    await worker.close();
    await rm(parent, { recursive: true, force: true });
  }
}

/** The job of a run, its source written where the child reads it. */
function request(source: string, runDir: { path: string; workDir: string; stdinPath: string; sourcePath: string }): ZygoteRequest {
  writeFileSync(runDir.sourcePath, source);
  return {
    job: {
      filename: 'main.py', trace: true, full_frame: false, max_steps: 10_000, trace_bytes: 1 << 20,
      repr_chars: 200, output_bytes: 1 << 16, wall_time_ms: 5_000, cpu_time_ms: 5_000, audit_hook: true,
    },
    source_path: runDir.sourcePath,
    run_dir: runDir.path,
    work_dir: runDir.workDir,
    stdin_path: runDir.stdinPath,
    rlimits: { address_space_bytes: 512 * 1024 * 1024, open_files: 64, processes: 16, disk_bytes: 1 << 24, disk_files: 256 },
  };
}

test('the zygote gives the work dir to the slot uid for the run and locks the run dir before it reports', NEEDS_ROOT, () => withWorker(async (worker, newRunDir) => {
  const runDir = await newRunDir();
  assert.equal((await stat(runDir.path)).mode & 0o777, 0o711, 'searchable while the run waits');
  const result = await worker.run(request("open('mine.txt', 'w').write('x')\n", runDir)).result;
  assert.ok('report' in result, JSON.stringify(result));
  assert.equal(result.report.exitCode, 0);
  const claimed = worker.sandbox?.uid;
  assert.ok(claimed !== undefined && claimed >= 63_900 && claimed < 64_000, `claimed ${claimed}`);
  assert.equal((await stat(runDir.workDir)).uid, claimed, 'the program owned its cwd');
  assert.equal((await stat(join(runDir.workDir, 'mine.txt'))).uid, claimed, 'and wrote in it as the slot uid');
  assert.equal((await stat(runDir.path)).mode & 0o777, 0o700, 'out of reach of the slot uid once reported');
}));

test("the slot's next program cannot reach the previous run's files while they are still being read", NEEDS_ROOT, () => withWorker(async (worker, newRunDir) => {
  const first = await newRunDir();
  const firstResult = await worker.run(request("open('output.txt', 'w').write('first')\n", first)).result;
  assert.ok('report' in firstResult);
  // The first run's dir is still there (the pool reads it after the slot is free): the next
  // program, same uid, tries to read and overwrite what the first one left.
  const second = await newRunDir();
  const probe = [
    'import os',
    `target = ${JSON.stringify(join(first.workDir, 'output.txt'))}`,
    'for mode in ("r", "w"):',
    '    try:',
    '        open(target, mode)',
    '        print(mode, "reached")',
    '    except OSError as error:',
    '        print(mode, type(error).__name__)',
  ].join('\n');
  const secondResult = await worker.run(request(`${probe}\n`, second)).result;
  assert.ok('report' in secondResult);
  assert.equal(await readFile(second.stdoutPath, 'utf8'), 'r PermissionError\nw PermissionError\n');
  assert.equal(await readFile(first.outputPath, 'utf8'), 'first');
}));

test('a job given while another runs waits at the zygote, starts when it ends, and can be withdrawn only while it waits', NEEDS_ROOT, () => withWorker(async (worker, newRunDir) => {
  const clock = 'import time\nprint(time.time())\ntime.sleep(0.3)\nprint(time.time())\n';
  const dirs = await Promise.all([0, 1, 2].map(() => newRunDir()));
  const first = worker.run(request(clock, dirs[0]!));
  const second = worker.run(request(clock, dirs[1]!));
  const third = worker.run(request('open("ran", "w")\n', dirs[2]!));
  assert.equal(worker.outstanding, 3);
  third.withdraw();
  assert.deepEqual(await third.result, { withdrawn: true });
  const [a, b] = await Promise.all([first.result, second.result]);
  assert.ok('report' in a && 'report' in b);
  second.withdraw(); // Ended already: ignored.
  const times = async (dir: { stdoutPath: string }) => (await readFile(dir.stdoutPath, 'utf8')).trim().split('\n').map(Number);
  const [firstTimes, secondTimes] = [await times(dirs[0]!), await times(dirs[1]!)];
  assert.ok(secondTimes[0]! >= firstTimes[1]!, 'one at a time, in the order given');
  await assert.rejects(stat(join(dirs[2]!.workDir, 'ran')), { code: 'ENOENT' });
  assert.equal(worker.outstanding, 0);
}));

test('when the zygote dies, its running job fails and the job waiting behind it comes back withdrawn', NEEDS_ROOT, () => withWorker(async (worker, newRunDir) => {
  const [runningDir, waitingDir] = await Promise.all([newRunDir(), newRunDir()]);
  const running = worker.run(request('import os, time\nprint(os.getppid(), flush=True)\ntime.sleep(30)\n', runningDir));
  const waiting = worker.run(request('print("never")\n', waitingDir));
  let zygote = 0;
  const deadline = Date.now() + 15_000;
  while (zygote === 0 && Date.now() < deadline) {
    zygote = Number((await readFile(runningDir.stdoutPath, 'utf8').catch(() => '')).trim() || 0);
    if (zygote === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(zygote > 0, 'the program reported its parent');
  process.kill(zygote, 'SIGKILL');
  const failed = await running.result;
  assert.ok('failure' in failed);
  assert.match(failed.failure, /^the executor process exited \(SIGKILL\)/);
  assert.deepEqual(await waiting.result, { withdrawn: true });
  const again = await worker.run(request('print("after")\n', await newRunDir())).result;
  assert.ok('report' in again && again.report.exitCode === 0, 'a fresh zygote runs the next job');
}));
