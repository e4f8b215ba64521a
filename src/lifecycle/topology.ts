import { AggregateTracestreamError, TracestreamError, describeError } from '../errors/index.js';

/** A running topology (or any long-lived flow). */
export interface RunningTopology {
  /** Settles when the topology has stopped and let go of everything it opened (rejects with what stopped it). */
  readonly done: Promise<void>;
  /** Drains the flow (stops taking input, finishes and commits what it holds), then closes every resource. Idempotent. */
  close(): Promise<void>;
}

/** How a topology's start function opens what it needs. */
export interface TopologyScope {
  /**
   * Registers a resource while it opens and returns the opening. Resources opened one after another
   * without an `await` between them open concurrently. Whatever happens later, each one that opened
   * is closed once, in the reverse order of the `open` calls (so the flow, opened last, drains
   * while what it writes to is still there).
   */
  open<T>(name: string, opening: Promise<T>, close?: (resource: T) => Promise<void> | void): Promise<T>;
}

interface Resource {
  name: string;
  settled: Promise<{ opened: true; close: () => Promise<void> | void } | { opened: false; error: unknown }>;
}

/**
 * The start-up and teardown every topology shares. `start` opens resources through the scope and
 * resolves to the flow (its `done` and `close`, e.g. a processor). If anything fails to open,
 * whatever did open is closed in reverse order and the first error is thrown. Once running, the
 * topology's `done` is the flow's, followed by closing every resource.
 *
 * @example
 * return startTopology('enrich', async (scope) => {
 *   const pool = scope.open('executor pool', createExecutorPool(), (p) => p.close())
 *   await ensureTopics(...)
 *   return scope.open('processor', Promise.resolve(startProcessor({ ..., transform })), (p) => p.close())
 * })
 */
export async function startTopology(name: string, start: (scope: TopologyScope) => Promise<RunningTopology>): Promise<RunningTopology> {
  const resources: Resource[] = [];
  const scope: TopologyScope = {
    open(resourceName, opening, close) {
      const settled = opening.then(
        (resource) => ({ opened: true as const, close: () => close?.(resource) }),
        (error: unknown) => ({ opened: false as const, error }),
      );
      resources.push({ name: resourceName, settled });
      return opening;
    },
  };
  let flow: RunningTopology;
  try {
    flow = await start(scope);
    // A resource the start function did not wait for must still have opened before the topology runs.
    for (const resource of resources) {
      const state = await resource.settled;
      if (!state.opened) throw state.error;
    }
  } catch (error) {
    // What opened is let go of; the start error is the one to report, not a teardown's.
    await closeInReverse(name, resources).catch(() => undefined);
    throw error;
  }
  const done = settleThenClose(name, flow.done, resources);
  done.catch(() => undefined);
  let closing: Promise<void> | undefined;
  return {
    done,
    close() {
      closing ??= flow.close().then(() => done, () => done);
      return closing;
    },
  };
}

/** Once the flow has stopped, every resource closes; the flow's error wins over teardown errors. */
async function settleThenClose(name: string, flowDone: Promise<void>, resources: readonly Resource[]): Promise<void> {
  let flowError: unknown;
  let failed = false;
  try {
    await flowDone;
  } catch (error) {
    flowError = error;
    failed = true;
  }
  try {
    await closeInReverse(name, resources);
  } catch (closeError) {
    if (!failed) throw closeError;
  }
  if (failed) throw flowError;
}

/** Closes every opened resource, last opened first; each runs even when an earlier one failed. */
async function closeInReverse(name: string, resources: readonly Resource[]): Promise<void> {
  const errors: unknown[] = [];
  for (const resource of [...resources].reverse()) {
    const state = await resource.settled;
    if (!state.opened) continue;
    try {
      await state.close();
    } catch (error) {
      errors.push(new TracestreamError('SHUTDOWN_FAILED', `${name} topology: closing ${resource.name} failed: ${describeError(error)}`, { cause: error }));
    }
  }
  if (errors.length > 0) throw new AggregateTracestreamError('SHUTDOWN_FAILED', `${name} topology did not close cleanly`, errors);
}
