import type { LiveFilter } from './filter.js';
import type { LiveReaderOptions } from './records.js';
import type { LiveStream } from './streams.js';
import { subscribe } from './subscribe.js';
import { painter, renderDiffForTerminal, renderTraceForTerminal } from './terminal.js';
import type { ExecutionTrace, LineDiff } from '../avro/index.js';

export interface TailOptions extends LiveReaderOptions {
  /** One JSON event per line (for scripts) instead of the snoop-style text. */
  json: boolean;
  colour: boolean;
  write: (text: string) => void;
  /** Told once the consumer has its partitions: events written from then on will be shown. */
  onReady?: (partitions: number) => void;
}

export interface RunningTail {
  /** Settles when the stream ends: rejects with what stopped it. */
  readonly done: Promise<void>;
  /** Closes the consumer; resolves once it disconnected. Idempotent. */
  stop(): Promise<void>;
}

/**
 * `tracestream tail`: prints a stream's events as they arrive, from `options.from` (default now):
 * snoop-style text (one run after another) or JSON lines.
 */
export function startTail(stream: LiveStream, filter: LiveFilter, options: TailOptions): RunningTail {
  const paint = painter(options.colour);
  let previousRunId: string | undefined;
  let stop!: () => void;
  let disconnected: Promise<void> = Promise.resolve();
  const done = new Promise<void>((resolve, reject) => {
    const subscription = subscribe(stream, filter, options, {
      onAssigned: (starts) => options.onReady?.(starts.length),
      onClosing: (closed) => {
        disconnected = closed;
      },
    }).subscribe({
      next({ event }) {
        if (options.json) {
          options.write(`${JSON.stringify(event)}\n`);
        } else if (stream === 'traces') {
          options.write(renderTraceForTerminal(event as ExecutionTrace, paint));
        } else {
          const diff = event as LineDiff;
          options.write(renderDiffForTerminal(diff, paint, previousRunId));
          previousRunId = diff.runId;
        }
      },
      error: reject,
      complete: resolve,
    });
    stop = () => {
      subscription.unsubscribe();
      resolve();
    };
  });
  return {
    done,
    stop() {
      stop();
      return disconnected;
    },
  };
}
