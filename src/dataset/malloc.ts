import { createRequire } from 'node:module';

/**
 * glibc's malloc serves an allocation from its heap, not from a mapping of its own, once the
 * allocation is below its mmap threshold, and it raises that threshold to the size of every large
 * block freed (up to 32 MiB). A replay frees large blocks all the time (Parquet pages and column
 * chunks, zstd output, record copies), so the threshold soon sits at megabytes, those blocks land in
 * the heap, and freed in no particular order they leave it fragmented: memory that stays in RSS.
 * How much depended on how many large blocks had come and gone, so peak RSS grew with the topic's
 * size although what the replay held did not (README "Benchmarks", replay: 348 MiB at 1x and 411 at
 * 4x with glibc's defaults; 336 and 356 with the threshold fixed; 363 and 373 with jemalloc).
 */
export const REPLAY_MMAP_THRESHOLD_BYTES = 64 * 1024;

/** mallopt's parameter number for M_MMAP_THRESHOLD (malloc.h). */
const M_MMAP_THRESHOLD = -3;

let fixed: boolean | undefined;

/**
 * Fixes glibc malloc's mmap threshold at REPLAY_MMAP_THRESHOLD_BYTES for the rest of the process
 * (mallopt: a threshold set once is no longer moved by glibc; there is no undoing it, and nothing to
 * undo: allocations above it are mapped and unmapped, and cost no more in a replay's measurements).
 * Returns whether it was applied: not without glibc, nor when the process was started with a
 * threshold of its own (`MALLOC_MMAP_THRESHOLD_` or `GLIBC_TUNABLES`), which wins.
 */
export function fixMallocMmapThreshold(): boolean {
  fixed ??= process.platform === 'linux' && !setByUser() && mallopt(M_MMAP_THRESHOLD, REPLAY_MMAP_THRESHOLD_BYTES);
  return fixed;
}

function mallopt(param: number, value: number): boolean {
  return glibcCall('int mallopt(int param, int value)', param, value) === 1;
}

/**
 * Calls a glibc function by its C prototype; undefined where there is none to call: no libc.so.6
 * (not glibc: musl has no such malloc settings) or no koffi binary for this platform.
 */
function glibcCall(prototype: string, ...args: unknown[]): unknown {
  try {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    return koffi.load('libc.so.6').func(prototype)(...args);
  } catch {
    return undefined;
  }
}

function setByUser(): boolean {
  return process.env.MALLOC_MMAP_THRESHOLD_ !== undefined || (process.env.GLIBC_TUNABLES ?? '').includes('glibc.malloc.mmap_threshold');
}

/**
 * Hands the free pages inside glibc's heap back to the system (malloc_trim). A replay calls it once,
 * between reading and writing: the read phase leaves the heap full of holes (librdkafka's messages,
 * traces decoded in full) that its top keeps from shrinking, and the write phase would otherwise
 * carry them in RSS to its peak (README "Benchmarks", replay). Once, because trimming after every
 * row group cost 9% and moved no peak. Returns whether memory was released; false without glibc.
 */
export function releaseFreeMallocMemory(): boolean {
  return glibcCall('int malloc_trim(size_t pad)', 0) === 1;
}
