import type { Execution } from '../../src/runs/index.js';
import { TraceBuilder, added, changed } from '../helpers/execution.js';

/** A loop that calls a function: the small program whose renderings the tests pin down. */
export const DOUBLE_SOURCE = `def double(n):
    result = n * 2
    return result

total = 0
for i in range(1, 3):
    total += double(i)
print(total)
`;

/** The trace the tracer records for DOUBLE_SOURCE. */
export function doubleExecution(): Execution {
  const trace = new TraceBuilder()
    .line(1, [added('double', '<function double>')])
    .line(5, [added('total', '0')])
    .line(6, [added('i', '1')])
    .line(7, [changed('total', '2')])
    .call('double', 1, [added('n', '1')])
    .line(2, [added('result', '2')])
    .line(3)
    .return(3, '2')
    .line(6, [changed('i', '2')])
    .line(7, [changed('total', '6')])
    .call('double', 1, [added('n', '2')])
    .line(2, [added('result', '4')])
    .line(3)
    .return(3, '4')
    .line(6)
    .line(8, [], { stdout: '6\n' });
  return trace.build();
}

/** Rebuilds a value with every object's keys in reverse order, as another producer might. */
export function reverseKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(reverseKeys) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reverseKeys(v)])) as T;
  }
  return value;
}
