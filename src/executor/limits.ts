import { z } from 'zod';
import { SETTINGS, type Settings } from '../config/settings.js';
import { TracestreamError } from '../errors/index.js';
import type { Limits } from './types.js';

const LIMIT_NAMES = [
  'wallTimeMs', 'cpuTimeMs', 'addressSpaceBytes', 'outputBytes', 'maxSteps', 'traceBytes', 'openFiles', 'reprChars',
] as const satisfies readonly (keyof Limits & keyof Settings)[];

/** The settings' defaults: one table (src/config/settings.ts) says what a run may use. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze(
  Object.fromEntries(LIMIT_NAMES.map((name) => [name, SETTINGS[name].default])) as unknown as Limits,
);

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

/** The limits the settings (flags, environment, defaults) ask for. */
export function limitsFromSettings(settings: Settings): Limits {
  return Object.fromEntries(LIMIT_NAMES.map((name) => [name, settings[name]])) as unknown as Limits;
}

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
