import type { Split } from './splits.js';
import type { RowSummary } from './row.js';

/** Distinct values counted before the rest is lumped together, so the counters stay bounded. */
const MAX_DISTINCT = 1000;

/** Counts of what a dataset holds, for its manifest and card; bounded whatever the dataset's size. */
export class DatasetStats {
  readonly splits: Record<Split, { runs: number; steps: number }> = {
    train: { runs: 0, steps: 0 }, validation: { runs: 0, steps: 0 }, test: { runs: 0, steps: 0 },
  };
  readonly outcomes = new BoundedCounter();
  readonly outcomesBySplit: Record<Split, BoundedCounter> = { train: new BoundedCounter(), validation: new BoundedCounter(), test: new BoundedCounter() };
  readonly tracerVersions = new BoundedCounter();
  readonly pythonVersions = new BoundedCounter();
  readonly limits = new BoundedCounter();
  readonly originRepos = new BoundedCounter();
  readonly schemaIds = new BoundedCounter();

  add(row: RowSummary, split: Split, schemaId: number): void {
    this.splits[split].runs += 1;
    this.splits[split].steps += row.step_count;
    this.outcomes.add(row.outcome);
    this.outcomesBySplit[split].add(row.outcome);
    this.tracerVersions.add(row.tracer_version);
    this.pythonVersions.add(row.python_version);
    this.limits.add(JSON.stringify(row.limits));
    const repo = (JSON.parse(row.origin) as Record<string, string>)['repo'];
    this.originRepos.add(repo ?? '(unknown)');
    this.schemaIds.add(String(schemaId));
  }
}

export class BoundedCounter {
  private readonly counts = new Map<string, number>();

  add(key: string): void {
    const known = this.counts.get(key);
    if (known !== undefined) this.counts.set(key, known + 1);
    else if (this.counts.size < MAX_DISTINCT) this.counts.set(key, 1);
    else this.counts.set('(other)', (this.counts.get('(other)') ?? 0) + 1);
  }

  /** Sorted by key, so the same counts always serialise the same. */
  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** The most frequent first (ties by key). */
  top(n: number): [string, number][] {
    return [...this.counts].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0)).slice(0, n);
  }
}
