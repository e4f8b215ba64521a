import type { z } from 'zod';
import { TracestreamError } from './error.js';

/**
 * The one way options objects are checked: against a zod schema, which gives both the type and
 * the runtime check. The CONFIG_INVALID error names each option (`what.field`) and the rule it
 * broke, so the caller sees which argument to fix.
 *
 * @example
 * const poolSchema = z.object({ concurrency: z.number().int().positive() })
 * const options = parseOptions(poolSchema, input, 'createExecutorPool')
 */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const path = issue.path.length === 0 ? what : `${what}.${issue.path.join('.')}`;
    return `${path}: ${issue.message}`;
  });
  throw new TracestreamError('CONFIG_INVALID', `invalid ${what} options: ${problems.join('; ')}`, {
    details: { issues: parsed.error.issues },
  });
}
