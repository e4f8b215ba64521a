import { z } from 'zod';
import { TracestreamError } from '../errors/index.js';

/** Resource limits of one run. All have defaults (see `DEFAULT_LIMITS`); units are in the names. */
export interface Limits {
  wallTimeMs: number;
  cpuTimeMs: number;
  addressSpaceBytes: number;
  /** Bytes of stdout, and separately of the OUTPUT_PATH file, the program may write. */
  outputBytes: number;
  /** Steps recorded before the run is stopped with `step-limit`; 0 lifts the limit. */
  maxSteps: number;
  /** Bytes of encoded trace kept; past it the trace is cut (`traceTruncated`) and the program runs on untraced. */
  traceBytes: number;
  openFiles: number;
  /** Longest repr kept for one value before it is cut with a `…` marker. */
  reprChars: number;
}

/**
 * What a run may use unless told otherwise. The settings table (src/config/settings.ts) takes its
 * defaults from here and documents each limit.
 */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  wallTimeMs: 10_000,
  cpuTimeMs: 10_000,
  addressSpaceBytes: 1024 * 1024 * 1024,
  outputBytes: 1024 * 1024,
  // The trace-bytes cut usually comes first and lets the program finish untraced.
  maxSteps: 1_000_000,
  // 2 MiB: tens of thousands of steps, far more than a language model reads of one run.
  traceBytes: 2 * 1024 * 1024,
  openFiles: 64,
  reprChars: 200,
});

const positive = z.number().int().positive();
const limitsSchema = z.strictObject({
  wallTimeMs: positive,
  cpuTimeMs: positive,
  // Below this the interpreter cannot even start its tracer; the child would die before a trace.
  addressSpaceBytes: z.number().int().min(64 * 1024 * 1024),
  outputBytes: positive,
  maxSteps: z.number().int().nonnegative(),
  traceBytes: positive,
  // stdin/stdout/stderr, the trace, and a few the interpreter opens for itself.
  openFiles: z.number().int().min(8),
  reprChars: positive,
});

/** `overrides` over `base`, validated; names the offending limit in the error. */
export function resolveLimits(base: Limits, overrides: Partial<Limits> = {}): Limits {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const parsed = limitsSchema.safeParse({ ...base, ...defined });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TracestreamError(
      'INPUT_INVALID',
      `limits.${issue?.path.join('.') ?? '?'}: ${issue?.message ?? 'invalid'}`,
      { details: { limits: overrides } },
    );
  }
  return parsed.data;
}
