import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { describeError, isInfrastructureFault, isTracestreamError, parseOptions } from '../../errors/index.js';
import type { ConsumedRecord, OutgoingRecord } from '../client/record.js';
import type { Transform } from './exactly-once.js';

/** The dead-letter records of an input that failed through its own fault. */
export type DeadLetterTransform = (record: ConsumedRecord, reason: string, error: unknown) =>
  readonly OutgoingRecord[] | Promise<readonly OutgoingRecord[]>;

const isolationSchema = z.object({
  /** First wait before an input that hit a retriable fault (registry, broker) is tried again. */
  retryInitialDelayMs: z.number().int().positive().default(100),
  /** Longest wait between tries; the wait doubles up to it. */
  retryMaxDelayMs: z.number().int().positive().default(5_000),
  /** How long one input is retried before its retriable fault stops the topology. */
  retryForMs: z.number().int().nonnegative().default(60_000),
});

export type InputIsolationOptions = z.input<typeof isolationSchema>;

/**
 * Wraps a topology's transform so that one input can never stop it:
 * - an input fault (anything `isInfrastructureFault` does not call the machinery's: its bytes do not
 *   decode, its events do not fit the schema or the message size, a bug only it triggers) turns
 *   into that input's dead-letter records, with the reason; the pipeline goes on;
 * - a retriable infrastructure fault (registry, broker) is retried with exponential backoff for up
 *   to `retryForMs`, then stops the topology;
 * - any other infrastructure fault stops it at once.
 * A failure while dead-lettering is not retried as the input's fault again: it stops the topology.
 *
 * @example
 * const transform = isolateInputs(traceSolution, (record, reason, error) => [toDeadLetter(record, reason, error)])
 */
export function isolateInputs(
  transform: Transform, deadLetter: DeadLetterTransform, options: InputIsolationOptions = {},
): (record: ConsumedRecord) => Promise<readonly OutgoingRecord[]> {
  const config = parseOptions(isolationSchema, options, 'isolateInputs');
  return async (record) => {
    const deadline = Date.now() + config.retryForMs;
    let delayMs = config.retryInitialDelayMs;
    for (;;) {
      try {
        return await transform(record);
      } catch (error) {
        if (!isInfrastructureFault(error)) return deadLetter(record, describeError(error), error);
        if (!(isTracestreamError(error) && error.retriable) || Date.now() + delayMs > deadline) throw error;
      }
      await sleep(delayMs);
      delayMs = Math.min(delayMs * 2, config.retryMaxDelayMs);
    }
  };
}
