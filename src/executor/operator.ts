import { mergeMap, Observable, type OperatorFunction } from 'rxjs';
import { TracestreamError } from '../errors/index.js';
import type { ExecutorPool } from './pool.js';
import type { Execution, ExecutionRequest } from '../runs/index.js';

export interface ExecuteWithOptions {
  /** Runs in flight at once; at most (and by default) the pool's concurrency + its queue. */
  concurrency?: number;
}

/**
 * Maps each request to its `Execution`, running up to `concurrency` at once on `pool`, so the pool
 * never refuses one as saturated (as long as nothing else shares it). Results come in completion
 * order. Unsubscribing cancels the runs in flight (they are killed, their run dirs removed).
 *
 * Requests the source emits while `concurrency` runs are in flight wait inside `mergeMap`: a push
 * source that must not be buffered should be paused upstream (the Kafka consumer does that).
 *
 * @example
 * requests$.pipe(executeWith(pool, { concurrency: 4 })).subscribe((e) => console.log(e.outcome));
 */
export function executeWith(pool: ExecutorPool, options: ExecuteWithOptions = {}): OperatorFunction<ExecutionRequest, Execution> {
  const capacity = pool.concurrency + pool.maxQueued;
  const concurrency = options.concurrency ?? capacity;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > capacity) {
    throw new TracestreamError(
      'CONFIG_INVALID',
      `executeWith concurrency: must be an integer from 1 to ${capacity} (the pool's concurrency + maxQueued), got ${concurrency}`,
    );
  }
  return mergeMap((request) => runOne(pool, request), concurrency);
}

function runOne(pool: ExecutorPool, request: ExecutionRequest): Observable<Execution> {
  return new Observable<Execution>((subscriber) => {
    const controller = new AbortController();
    pool.run(request, { signal: controller.signal }).then(
      (execution) => {
        subscriber.next(execution);
        subscriber.complete();
      },
      (error: unknown) => subscriber.error(error),
    );
    return () => controller.abort();
  });
}
