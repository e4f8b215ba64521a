import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets the heap grow past what survived its last full collection while a replay runs, in
 * percent. By default V8 lets it reach a few times that before collecting again: a replay's heap is
 * mostly short-lived garbage (each trace decoded, each row group's rows and the column arrays the
 * Parquet writer builds from them, most of them too large for the young generation), so its peak
 * RSS followed V8's pacing, not what is alive. Measured with --trace-gc on the dev corpus' write
 * phase: 358 MiB of heap at its highest by default, 206 MiB at 20%, in the same time (README
 * "Benchmarks").
 */
export const REPLAY_HEAP_GROWING_PERCENT = 20;

const FLAG = '--heap-growing-percent';
let holders = 0;

/**
 * Sets V8's heap growing factor to REPLAY_HEAP_GROWING_PERCENT for as long as one holder keeps it;
 * the returned function releases it, and the last release sets V8's own pacing back. The flag is
 * read at each full collection, so it takes effect while the process runs; it is process-wide, so
 * a process that set it itself (node flags or NODE_OPTIONS) keeps its own value.
 */
export function limitHeapGrowth(): () => void {
  if (setByUser()) return () => {};
  if (holders === 0) setFlagsFromString(`${FLAG}=${REPLAY_HEAP_GROWING_PERCENT}`);
  holders += 1;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holders -= 1;
    // 0 is V8's default: its own dynamic factor.
    if (holders === 0) setFlagsFromString(`${FLAG}=0`);
  };
}

function setByUser(): boolean {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return flags.some((flag) => flag.replaceAll('_', '-').startsWith(FLAG));
}
