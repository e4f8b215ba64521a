import { readFileSync } from 'node:fs';
import { TracestreamError } from '../errors/index.js';

/** The tracer that writes the trace owns its version; this is read from it, never written twice. */
const TRACER_SOURCE = new URL('./python/tracer.py', import.meta.url);

/**
 * Version of the line tracer (`TRACER_VERSION` in python/tracer.py), which every trace event carries.
 * A run reports the version its own tracer wrote; this one stands in when a run died before it could.
 */
export const TRACER_VERSION: string = readTracerVersion();

function readTracerVersion(): string {
  const match = /^TRACER_VERSION = "([^"]+)"$/m.exec(readFileSync(TRACER_SOURCE, 'utf8'));
  if (match === null) {
    throw new TracestreamError('EXECUTOR_CRASHED', `${TRACER_SOURCE.pathname} has no TRACER_VERSION = "..." line; the build did not copy the tracer whole`);
  }
  return match[1]!;
}
