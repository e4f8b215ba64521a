import { z } from 'zod';
import { OUTCOMES } from '../runs/index.js';
import type { RowSummary } from './row.js';

/**
 * Which runs go into a dataset. Every condition given must hold; none given keeps every run. Filters
 * apply after the one-trace-per-run rule, so a run is in or out by the trace the rule kept.
 */
export const datasetFilterSchema = z.object({
  /** Keep runs with one of these outcomes (executor spelling: ok, step-limit, ...). */
  outcomes: z.array(z.enum(OUTCOMES as unknown as [string, ...string[]])).min(1).optional(),
  problems: z.array(z.string().min(1)).min(1).optional(),
  tracerVersions: z.array(z.string().min(1)).min(1).optional(),
  /** true: only cut traces; false: only whole ones. */
  truncated: z.boolean().optional(),
  /** Keep runs whose tracer saw at most this many steps. */
  maxSteps: z.number().int().nonnegative().optional(),
}).strict();

export type DatasetFilter = z.infer<typeof datasetFilterSchema>;

/** A predicate for `filter`, with the lists turned into sets once. */
export function rowFilter(filter: DatasetFilter): (row: RowSummary) => boolean {
  const outcomes = filter.outcomes && new Set<string>(filter.outcomes);
  const problems = filter.problems && new Set(filter.problems);
  const tracers = filter.tracerVersions && new Set(filter.tracerVersions);
  return (row) =>
    (outcomes === undefined || outcomes.has(row.outcome))
    && (problems === undefined || problems.has(row.problem_id))
    && (tracers === undefined || tracers.has(row.tracer_version))
    && (filter.truncated === undefined || row.truncated === filter.truncated)
    && (filter.maxSteps === undefined || row.step_count <= filter.maxSteps);
}
