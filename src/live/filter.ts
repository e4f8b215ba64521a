import { z } from 'zod';
import { outcomeToAvro } from '../avro/index.js';
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
 * The test a filter makes of an event of either stream. A LineDiff carries its run's problem and
 * outcome (diffs are emitted once the run is over); one from a producer older than those fields has
 * them null and matches no problem or outcome filter, since it cannot say.
 */
export function eventMatcher<S extends LiveStream>(filter: LiveFilter): (event: LiveEventOf<S>) => boolean {
  const { problem, solution, outcome } = filter;
  const avroOutcome = outcome === undefined ? undefined : outcomeToAvro(outcome);
  return (event) => (solution === undefined || event.solutionId === solution)
    && (problem === undefined || event.problemId === problem)
    && (avroOutcome === undefined || event.outcome === avroOutcome);
}
