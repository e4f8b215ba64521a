import { randomUUID } from 'node:crypto';
import type { AvroCodec, ExecutionTrace } from '../avro/index.js';
import { outcomeFromAvro } from '../avro/index.js';
import type { Execution } from '../executor/index.js';
import { kafkaSource, type KafkaClientConfig } from '../kafka/index.js';

export interface CollectTracesOptions {
  client: KafkaClientConfig;
  codec: AvroCodec;
  topic: string;
  /** The runs to wait for; traces of other runs in the topic are skipped. */
  runIds: ReadonlySet<string>;
  onTrace?: (trace: ExecutionTrace) => void;
}

/**
 * Reads `topic` from the beginning until a trace of every run in `runIds` arrived. Redelivered
 * duplicates (at-least-once) are dropped by run id: the first trace of a run wins.
 */
export async function collectTraces(options: CollectTracesOptions): Promise<Map<string, ExecutionTrace>> {
  const traces = new Map<string, ExecutionTrace>();
  if (options.runIds.size === 0) return traces;
  const source = kafkaSource({
    client: options.client,
    groupId: `tracestream-collect-${randomUUID()}`,
    topics: [options.topic],
    fromBeginning: true,
    assignAllPartitions: true,
  });
  await new Promise<void>((resolve, reject) => {
    const subscription = source.records.subscribe({
      next: (record) => {
        if (record.value === null) return record.ack();
        options.codec.decode(record.value, 'ExecutionTrace').then((trace) => {
          record.ack();
          if (!options.runIds.has(trace.runId) || traces.has(trace.runId)) return;
          traces.set(trace.runId, trace);
          options.onTrace?.(trace);
          if (traces.size === options.runIds.size) {
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
  });
  await source.close();
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
