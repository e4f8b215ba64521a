import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { readSolutions } from '../src/pipeline/index.js';
import type { SolutionSubmitted } from '../src/avro/index.js';
import { startTestPool, type TestPool } from './executor/helpers.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
let testPool: TestPool;

before(async () => { testPool = await startTestPool({ concurrency: 2 }); });
after(() => testPool.close());

/** The outcome column of examples/README.md, by program. */
async function documentedOutcomes(): Promise<Map<string, string>> {
  const readme = await readFile(`${EXAMPLES}README.md`, 'utf8');
  const rows = [...readme.matchAll(/^\| `([^`]+\.py)` \|[^|]*\| (\S+) \|$/gm)];
  return new Map(rows.map((row) => [row[1]!, row[2]!]));
}

test('every example ends with the outcome examples/README.md documents for it, and each is documented', async () => {
  const documented = await documentedOutcomes();
  const solutions: SolutionSubmitted[] = [];
  for await (const solution of readSolutions(EXAMPLES)) solutions.push(solution);
  assert.deepEqual(solutions.map((s) => s.solutionId).sort(), [...documented.keys()].sort());
  const outcomes = await Promise.all(solutions.map(async (solution) => {
    const execution = await testPool.pool.run({ source: solution.source, stdin: solution.inputs[0]!.stdin, filename: solution.solutionId });
    return [solution.solutionId, execution.outcome.replace('-', '_'), execution.reason] as const;
  }));
  for (const [id, outcome, reason] of outcomes) assert.equal(outcome, documented.get(id), `${id}: ${reason}`);
});
