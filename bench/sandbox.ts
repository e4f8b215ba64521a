/**
 * What the box costs per run: one slot runs a trivial program untraced, over and over, boxed and
 * unboxed in alternating rounds; the medians of the rounds are compared.
 *
 *   npm run bench:sandbox -- [--runs N] [--rounds N]
 *
 * Prints, per run, the wall time from submission to result (one slot, nothing queued: a run's
 * whole set-up and teardown, the program itself being `pass`), and the CPU the slot's zygote and
 * its children used (from /proc: the box's mounts, clone and teardown, plus the interpreter's own
 * start-up after the fork). Must run as root (unboxed, programs still run as the slot's uid).
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createExecutorPool, type ExecutorPool } from '../src/executor/index.js';
import { median } from './median.js';

const TICKS_PER_SECOND = 100; // USER_HZ: the unit of /proc/<pid>/stat's times on Linux

async function main(argv: readonly string[]): Promise<void> {
  const { values: flags } = parseArgs({ args: [...argv], options: { runs: { type: 'string' }, rounds: { type: 'string' } } });
  const runs = Number(flags['runs'] ?? 100);
  const rounds = Number(flags['rounds'] ?? 4);
  if (process.getuid?.() !== 0) throw new Error('bench:sandbox compares boxed and unboxed runs, which needs root');
  const boxed = await createExecutorPool({ concurrency: 1, maxQueued: 1, box: true });
  const unboxed = await createExecutorPool({ concurrency: 1, maxQueued: 1, box: false });
  try {
    if (boxed.isolation !== 'box') throw new Error(`no box on this host: ${boxed.boxFailure}`);
    const samples = { boxed: { wall: [] as number[], cpu: [] as number[] }, unboxed: { wall: [] as number[], cpu: [] as number[] } };
    for (let round = 0; round < rounds; round += 1) {
      // Alternate which goes first, so a steady drift of the machine counts against both alike.
      const order = round % 2 === 0 ? (['boxed', 'unboxed'] as const) : (['unboxed', 'boxed'] as const);
      for (const name of order) {
        const { wallMs, cpuMs } = await perRun(name === 'boxed' ? boxed : unboxed, runs);
        samples[name].wall.push(wallMs);
        samples[name].cpu.push(cpuMs);
      }
    }
    const line = (name: 'boxed' | 'unboxed') =>
      `${name.padEnd(8)} ${median(samples[name].wall).toFixed(2)} ms wall/run, ${median(samples[name].cpu).toFixed(2)} ms CPU/run (zygote + children)`;
    console.log(`${runs} runs x ${rounds} rounds per side, one slot, program "pass" untraced`);
    console.log(line('boxed'));
    console.log(line('unboxed'));
    console.log(`box cost per run: ${(median(samples.boxed.wall) - median(samples.unboxed.wall)).toFixed(2)} ms wall, ` +
      `${(median(samples.boxed.cpu) - median(samples.unboxed.cpu)).toFixed(2)} ms CPU`);
  } finally {
    await Promise.all([boxed.close(), unboxed.close()]);
  }
}

async function perRun(pool: ExecutorPool, runs: number): Promise<{ wallMs: number; cpuMs: number }> {
  await pool.run({ source: 'pass\n', trace: false }); // the zygote started and warm
  const zygote = await zygoteOf(pool);
  const cpuBefore = await cpuTicks(zygote);
  const started = performance.now();
  for (let i = 0; i < runs; i += 1) {
    const execution = await pool.run({ source: 'pass\n', trace: false });
    if (execution.outcome !== 'ok') throw new Error(`a trivial run ended ${execution.outcome}: ${execution.reason}`);
  }
  const wallMs = (performance.now() - started) / runs;
  const cpuMs = ((await cpuTicks(zygote)) - cpuBefore) * (1000 / TICKS_PER_SECOND) / runs;
  return { wallMs, cpuMs };
}

/** The pool's one zygote: the process that holds the lock of the uid its slot claimed. */
async function zygoteOf(pool: ExecutorPool): Promise<number> {
  const lock = `tracestream-uid-${pool.sandboxUids[0]}.lock`;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    for (const fd of await readdir(`/proc/${entry}/fd`).catch(() => [] as string[])) {
      if ((await readlink(`/proc/${entry}/fd/${fd}`).catch(() => '')).endsWith(lock)) return Number(entry);
    }
  }
  throw new Error(`no process holds ${lock}`);
}

/** utime + stime + cutime + cstime of a process, in clock ticks. */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
}

await main(process.argv.slice(2));
