import { AggregateTracestreamError, TracestreamError, describeError } from '../errors/index.js';

export type Teardown = () => Promise<void> | void;

/**
 * Runs teardowns last-registered first (a source registered after its sink closes before it, so the
 * sink can still deliver the drained records), each after the previous one finished, all within
 * `deadlineMs`. Every teardown runs even when one fails; failures and a missed deadline are
 * reported together.
 */
export async function runTeardowns(teardowns: readonly { name: string; teardown: Teardown }[], deadlineMs: number): Promise<void> {
  const errors: unknown[] = [];
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), deadlineMs);
  });
  try {
    for (const { name, teardown } of [...teardowns].reverse()) {
      const outcome = await Promise.race([
        Promise.resolve().then(teardown).then(() => 'done' as const, (error: unknown) => {
          errors.push(new TracestreamError('SHUTDOWN_FAILED', `teardown ${name} failed: ${describeError(error)}`, { cause: error }));
          return 'done' as const;
        }),
        deadline,
      ]);
      if (outcome === 'timeout') {
        errors.push(new TracestreamError('SHUTDOWN_TIMEOUT', `teardown ${name} did not finish within the ${deadlineMs} ms shutdown deadline`));
        break;
      }
    }
  } finally {
    clearTimeout(timer);
  }
  if (errors.length > 0) {
    const timedOut = errors.some((e) => e instanceof TracestreamError && e.code === 'SHUTDOWN_TIMEOUT');
    throw new AggregateTracestreamError(timedOut ? 'SHUTDOWN_TIMEOUT' : 'SHUTDOWN_FAILED', 'shutdown was not clean', errors);
  }
}

export interface ShutdownOptions {
  deadlineMs: number;
  signals?: readonly NodeJS.Signals[];
  /** Where the outcome is reported; exit is called with 0 after a clean drain, 1 otherwise. */
  exit?: (code: number) => void;
  report?: (message: string) => void;
}

export interface ShutdownHandle {
  /** Adds a teardown (drain, commit, disconnect); the returned function removes it again. */
  register(name: string, teardown: Teardown): () => void;
  /** Runs the teardowns now (what a signal does), then exits. Idempotent. */
  shutdown(reason: string): Promise<void>;
  /** Removes the signal handlers without running anything. */
  dispose(): void;
}

/**
 * Installs SIGTERM/SIGINT handlers that run the registered teardowns within `deadlineMs` and exit
 * 0 on a clean drain, 1 when a teardown failed or the deadline passed (all errors reported at once).
 * A second signal exits at once with 1.
 *
 * @example
 * const shutdown = installShutdown({ deadlineMs: settings.shutdownDeadlineMs })
 * shutdown.register('producer', () => producer.close())
 * shutdown.register('source', () => source.close())
 */
export function installShutdown(options: ShutdownOptions): ShutdownHandle {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const report = options.report ?? ((message: string) => process.stderr.write(`${message}\n`));
  const teardowns: { name: string; teardown: Teardown }[] = [];
  let running: Promise<void> | undefined;

  const shutdown = (reason: string): Promise<void> => {
    running ??= runTeardowns(teardowns, options.deadlineMs).then(
      () => {
        report(`tracestream: shut down cleanly (${reason})`);
        exit(0);
      },
      (error: unknown) => {
        report(`tracestream: ${describeError(error)}`);
        exit(1);
      },
    );
    return running;
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (running !== undefined) {
      report(`tracestream: ${signal} again during shutdown; exiting now`);
      exit(1);
      return;
    }
    void shutdown(signal);
  };
  for (const signal of signals) process.on(signal, onSignal);
  return {
    register(name, teardown) {
      const entry = { name, teardown };
      teardowns.push(entry);
      return () => {
        const index = teardowns.indexOf(entry);
        if (index !== -1) teardowns.splice(index, 1);
      };
    },
    shutdown,
    dispose() {
      for (const signal of signals) process.off(signal, onSignal);
    },
  };
}
