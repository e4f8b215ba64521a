import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const MALLOC = fileURLToPath(new URL('../../src/dataset/malloc.js', import.meta.url));

/**
 * In a fresh process (the setting is process-wide and cannot be undone): optionally fixes the
 * threshold, then allocates 64 buffers of 100 KiB, between glibc's default threshold (128 KiB) and
 * the replay's (64 KiB), and reports how many were mapped on their own (mallinfo2's count of mapped
 * blocks) rather than served from the heap. (A block that fits in the free top of the heap comes
 * from there whatever the threshold, hence many blocks: most need the heap to grow.)
 */
async function allocateInFreshProcess(fix: boolean, env: Record<string, string> = {}): Promise<{ applied: boolean | null; mapped: number }> {
  const script = `
    import koffi from 'koffi';
    import { fixMallocMmapThreshold } from ${JSON.stringify(MALLOC)};
    const size_t = 'size_t';
    const MallInfo2 = koffi.struct('mallinfo2', { arena: size_t, ordblks: size_t, smblks: size_t, hblks: size_t, hblkhd: size_t, usmblks: size_t, fsmblks: size_t, uordblks: size_t, fordblks: size_t, keepcost: size_t });
    const mallinfo2 = koffi.load('libc.so.6').func('mallinfo2', MallInfo2, []);
    const applied = ${fix} ? fixMallocMmapThreshold() : null;
    const before = Number(mallinfo2().hblks);
    const held = Array.from({ length: 64 }, () => Buffer.allocUnsafeSlow(100 * 1024));
    const mapped = Number(mallinfo2().hblks) - before;
    console.log(JSON.stringify({ applied, mapped, held: held.length }));
  `;
  const { MALLOC_MMAP_THRESHOLD_: _threshold, GLIBC_TUNABLES: _tunables, ...inherited } = process.env;
  const { stdout } = await execa(process.execPath, ['--input-type=module', '-e', script], { env: { ...inherited, ...env }, extendEnv: false, cwd: fileURLToPath(new URL('../../..', import.meta.url)) });
  const { applied, mapped } = JSON.parse(stdout) as { applied: boolean | null; mapped: number };
  return { applied, mapped };
}

const glibc = process.platform === 'linux' && (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime !== undefined;

test('fixing the mmap threshold makes glibc map a 100 KiB block on its own, which its default serves from the heap', { skip: !glibc && 'glibc only' }, async () => {
  assert.equal((await allocateInFreshProcess(false)).mapped, 0, 'the default threshold (128 KiB) keeps 100 KiB blocks in the heap');
  const fixed = await allocateInFreshProcess(true);
  assert.equal(fixed.applied, true);
  assert.ok(fixed.mapped >= 48, `${fixed.mapped} of 64 blocks of 100 KiB mapped on their own`);
});

test('a threshold the process was started with wins over the replay\'s', { skip: !glibc && 'glibc only' }, async () => {
  assert.deepEqual(await allocateInFreshProcess(true, { MALLOC_MMAP_THRESHOLD_: String(1024 * 1024) }), { applied: false, mapped: 0 });
  assert.deepEqual(await allocateInFreshProcess(true, { GLIBC_TUNABLES: `glibc.malloc.mmap_threshold=${1024 * 1024}` }), { applied: false, mapped: 0 });
});

test('releasing free malloc memory hands the holes left in glibc\'s heap back: RSS drops', { skip: !glibc && 'glibc only' }, async () => {
  // 40,000 blocks of 1 KB from the heap, one in a hundred kept (so the heap's top cannot shrink), the rest freed.
  const script = `
    import { readFileSync } from 'node:fs';
    import { releaseFreeMallocMemory } from ${JSON.stringify(MALLOC)};
    const rssAnon = () => Number(/^RssAnon:\\s+(\\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
    let blocks = Array.from({ length: 40000 }, () => Buffer.allocUnsafeSlow(1000).fill(1));
    const kept = blocks.filter((_, i) => i % 100 === 99);
    blocks = undefined;
    globalThis.gc();
    globalThis.gc();
    const before = rssAnon();
    const released = releaseFreeMallocMemory();
    console.log(JSON.stringify({ released, dropped: before - rssAnon(), kept: kept.length }));
  `;
  const { stdout } = await execa(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../../..', import.meta.url)) });
  const { released, dropped } = JSON.parse(stdout) as { released: boolean; dropped: number };
  assert.equal(released, true);
  assert.ok(dropped >= 20 * 2 ** 20, `RSS dropped by ${(dropped / 2 ** 20).toFixed(1)} MiB`);
});
