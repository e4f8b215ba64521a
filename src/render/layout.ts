import type { Step } from '../runs/index.js';

/**
 * One item of the reading order shared by the text renderers.
 *
 * `start`: a step begins. When `deferred` is true the step is a `line` that called into traced code
 * (the next step is deeper), so its changes and output are not shown here but in a later `finish`.
 * `finish`: the deferred line has finished; its changes and stdout belong here.
 */
export type LayoutItem =
  | { kind: 'start'; step: Step; deferred: boolean }
  | { kind: 'finish'; step: Step };

/**
 * Orders steps the way a reader should see them. The tracer numbers a line that calls a function
 * before the call's steps but credits it with what it changed once it finished; showing those
 * changes before the call would reveal the call's result before the call runs (snoop prints them
 * after the call too). A deferred line finishes when the next step at its depth or shallower
 * begins, or at the end of the trace for a cut trace.
 *
 * @example
 * // `x = f(1)` at depth 0, then f's call/line/return at depth 1, then `print(x)`:
 * // start(x = f(1), deferred) start(call f) start(line) start(return) finish(x = f(1)) start(print)
 */
export function* layoutSteps(steps: readonly Step[]): Generator<LayoutItem> {
  // Depths strictly increase from bottom to top: a deeper line is only pushed once shallower ones
  // at or above its depth have finished.
  const pending: Step[] = [];
  for (let i = 0; i < steps.length; i += 1) {
    const step = steps[i]!;
    yield* finishDownTo(pending, step.depth);
    const next = steps[i + 1];
    const deferred = step.event === 'line' && next !== undefined && next.depth > step.depth;
    yield { kind: 'start', step, deferred };
    if (deferred) pending.push(step);
  }
  yield* finishDownTo(pending, Number.NEGATIVE_INFINITY);
}

function* finishDownTo(pending: Step[], depth: number): Generator<LayoutItem> {
  while (pending.length > 0 && pending[pending.length - 1]!.depth >= depth) {
    yield { kind: 'finish', step: pending.pop()! };
  }
}
