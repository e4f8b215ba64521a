import { z } from 'zod';
import { outcomeToAvro } from '../avro/index.js';
import { TracestreamError } from '../errors/index.js';
import { OUTCOMES, type Outcome } from '../runs/index.js';
import type { LiveEventOf, LiveStream } from './streams.js';

/** Which events a live reader wants; every field given must match. */
export const liveFilterSchema = z.object({
  /** The problem the solution answers (ExecutionTrace.problemId). */
  problem: z.string().min(1).optional(),
  /** The solution (solutionId), whose runs are one per input. */
  solution: z.string().min(1).optional(),
  /** How the run ended, as the executor names it: ok, error, timeout, step-limit, ... */
  outcome: z.enum(OUTCOMES as [Outcome, ...Outcome[]]).optional(),
}).strict();

export type LiveFilter = z.infer<typeof liveFilterSchema>;

/**
 * The test a filter makes of one event of `stream`. A LineDiff names its solution but not its
 * problem or outcome (those are its run's, in the run's ExecutionTrace), so those filters are
 * refused on `diffs` rather than silently matching nothing.
 */
export function eventMatcher<S extends LiveStream>(stream: S, filter: LiveFilter): (event: LiveEventOf<S>) => boolean {
  const { problem, solution, outcome } = filter;
  if (stream === 'diffs') {
    if (problem !== undefined || outcome !== undefined) {
      throw new TracestreamError('CONFIG_INVALID', 'diffs can be filtered by solution only: a LineDiff does not carry its problem or outcome (filter traces for those)');
    }
    return (event) => solution === undefined || event.solutionId === solution;
  }
  const avroOutcome = outcome === undefined ? undefined : outcomeToAvro(outcome);
  return (event) => {
    const trace = event as LiveEventOf<'traces'>;
    return (solution === undefined || trace.solutionId === solution)
      && (problem === undefined || trace.problemId === problem)
      && (avroOutcome === undefined || trace.outcome === avroOutcome);
  };
}
