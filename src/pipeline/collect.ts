import { randomUUID } from 'node:crypto';
import type { AvroCodec, EventType, EventTypes, ExecutionTrace } from '../avro/index.js';
import { outcomeFromAvro } from '../avro/index.js';
import type { Execution } from '../runs/index.js';
import { kafkaSource, type KafkaClientConfig } from '../kafka/index.js';

export interface ReadEventsOptions<K extends EventType> {
  client: KafkaClientConfig;
  codec: AvroCodec;
  topic: string;
  eventType: K;
  /** Called with each event in the order its record arrived; return true to stop reading. */
  onEvent: (event: EventTypes[K]) => boolean;
  /** Aborting stops the read: it rejects with the signal's reason once the consumer is closed. */
  signal?: AbortSignal;
}

/**
 * Reads `topic` from the beginning, every partition, without joining a consumer group (a scan, not
 * a member of a pipeline), decoding each record as `eventType`, until `onEvent` says it has enough.
 * A record that does not decode rejects the read.
 */
export async function readEvents<K extends EventType>(options: ReadEventsOptions<K>): Promise<void> {
  const source = kafkaSource({
    client: options.client,
    groupId: `tracestream-read-${randomUUID()}`,
    topics: [options.topic],
    fromBeginning: true,
    assignAllPartitions: true,
  });
  const { signal } = options;
  let onAbort: (() => void) | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      let decoded: Promise<unknown> = Promise.resolve();
      onAbort = () => {
        subscription.unsubscribe();
        reject(signal?.reason);
      };
      const subscription = source.records.subscribe({
        next: (record) => {
          record.ack();
          const value = record.value;
          if (value === null) return;
          // Chained, so events reach onEvent in record order even though decoding is asynchronous.
          decoded = decoded.then(() => (subscription.closed ? undefined : options.codec.decode(value, options.eventType))).then((event) => {
            if (event === undefined || subscription.closed) return;
            if (options.onEvent(event)) {
              subscription.unsubscribe();
              resolve();
            }
          }, (error: unknown) => {
            subscription.unsubscribe();
            reject(error);
          });
        },
        error: reject,
        complete: () => resolve(),
      });
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  } finally {
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    await source.close();
  }
}

export interface CollectTracesOptions {
  client: KafkaClientConfig;
  codec: AvroCodec;
  topic: string;
  /** The runs to wait for; traces of other runs in the topic are skipped. */
  runIds: ReadonlySet<string>;
  onTrace?: (trace: ExecutionTrace) => void;
  /** Aborting stops waiting (see readEvents). */
  signal?: AbortSignal;
}

/**
 * Reads `topic` until a trace of every run in `runIds` arrived. Redelivered duplicates
 * (at-least-once) are dropped by run id: the first trace of a run wins.
 */
export async function collectTraces(options: CollectTracesOptions): Promise<Map<string, ExecutionTrace>> {
  const traces = new Map<string, ExecutionTrace>();
  if (options.runIds.size === 0) return traces;
  await readEvents({
    client: options.client,
    codec: options.codec,
    topic: options.topic,
    eventType: 'ExecutionTrace',
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    onEvent: (trace) => {
      if (options.runIds.has(trace.runId) && !traces.has(trace.runId)) {
        traces.set(trace.runId, trace);
        options.onTrace?.(trace);
      }
      return traces.size === options.runIds.size;
    },
  });
  return traces;
}

/** The trace as the executor's `Execution`, for the renderers. */
export function executionOf(trace: ExecutionTrace): Execution {
  return {
    runId: trace.runId,
    outcome: outcomeFromAvro(trace.outcome),
    exitCode: trace.exitCode,
    signal: trace.signal,
    stdout: trace.stdout,
    stderrTail: trace.stderrTail,
    outputFile: trace.outputFile,
    exception: trace.exception,
    reason: trace.reason,
    wallTimeMs: trace.wallTimeMs,
    cpuTimeMs: trace.cpuTimeMs,
    steps: trace.steps,
    stepCount: trace.stepCount,
    traceTruncated: trace.traceTruncated,
    limits: trace.limits,
    tracerVersion: trace.tracerVersion,
    pythonVersion: trace.pythonVersion,
  };
}

export interface AwaitRunsOptions {
  client: KafkaClientConfig;
  topic: string;
  /** The runs to wait for, by run id (the record key of a trace). */
  runIds: ReadonlySet<string>;
  /** Called once per run id, when its first trace arrives. */
  onRun?: (runId: string) => void;
}

/**
 * Waits until `topic` holds a record keyed by every run id in `runIds`, reading keys only: memory
 * holds the run ids, never the traces (a writer reads them again, e.g. `replayTopic`).
 */
export async function awaitRuns(options: AwaitRunsOptions): Promise<void> {
  const seen = new Set<string>();
  if (options.runIds.size === 0) return;
  const source = kafkaSource({
    client: options.client,
    groupId: `tracestream-await-${randomUUID()}`,
    topics: [options.topic],
    fromBeginning: true,
    assignAllPartitions: true,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const subscription = source.records.subscribe({
        next: (record) => {
          record.ack();
          const runId = record.key?.toString('utf8');
          if (runId === undefined || seen.has(runId) || !options.runIds.has(runId)) return;
          seen.add(runId);
          options.onRun?.(runId);
          if (seen.size === options.runIds.size) {
            subscription.unsubscribe();
            resolve();
          }
        },
        error: reject,
        complete: () => resolve(),
      });
    });
  } finally {
    await source.close();
  }
}
