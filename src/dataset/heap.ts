import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let fullCollection: (() => void) | undefined;

/**
 * A full garbage collection, for the moment a replay knows that most of its heap just became
 * garbage: the decoded rows of a row group it wrote. Between full collections V8 lets the old
 * generation grow to a few times what survived the last one, so without this the peak RSS follows
 * V8's pacing, not what is alive. Measured with --trace-gc on the dev corpus' traces: at most 120
 * MiB alive after any full collection at 1x and 131 MiB at 4x, with 500 and 537 MiB of heap just
 * before them. One collection costs about 60 ms per row group written.
 */
export function collectGarbage(): void {
  fullCollection ??= exposeGc();
  fullCollection();
}

function exposeGc(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  // The flag exposes `gc` to contexts created after it is set; it is turned off again at once.
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('gc') as () => void;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
