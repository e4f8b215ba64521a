/**
 * Runs at most `limit` tasks at once; the rest wait in arrival order. The waiting list is bounded by
 * whoever calls it (a topology calls it once per record in flight, and the source bounds those).
 *
 * @example
 * const executing = limitConcurrency(8)
 * const traces = await executing(() => executeSolution(pool, solution, limits))
 */
export function limitConcurrency(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  const release = (): void => {
    const next = waiting.shift();
    if (next === undefined) running--;
    else next();
  };
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running < limit) running++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      release();
    }
  };
}
