import type { AvroCodec, DeadLetter, ExecutionTrace, SolutionSubmitted } from '../avro/index.js';
import { describeError, isTracestreamError } from '../errors/index.js';
import type { ExecutorPool } from '../executor/index.js';
import type { Limits } from '../runs/index.js';
import { deadLetterHeaders, type ConsumedRecord, type OutgoingRecord, type TopicSpec } from '../kafka/index.js';
import { EVENT_SCHEMA_VERSION, runIdOf, toLineDiffs, toTraceEvent } from './events.js';

/** Topic names of the trace topology. */
export interface TraceTopics {
  solutions: string;
  traces: string;
  diffs: string;
  deadLetters: string;
}

export const DEFAULT_TRACE_TOPICS: TraceTopics = {
  solutions: 'solutions',
  traces: 'traces',
  diffs: 'diffs',
  deadLetters: 'solutions.dead-letter',
};

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The topics of the trace topology and their settings on a real cluster. Traces are keyed by run id
 * and compacted, so the topic always holds the latest trace of every run (what replay rebuilds a
 * dataset from); diffs and dead letters expire.
 */
export function traceTopicSpecs(topics: TraceTopics, partitions = 12): TopicSpec[] {
  const large = { 'max.message.bytes': String(32 * 1024 * 1024) };
  return [
    { name: topics.solutions, partitions, config: { 'retention.ms': String(30 * DAY_MS), ...large } },
    { name: topics.traces, partitions, config: { 'cleanup.policy': 'compact', ...large } },
    { name: topics.diffs, partitions, config: { 'retention.ms': String(7 * DAY_MS), ...large } },
    { name: topics.deadLetters, partitions: 1, config: { 'retention.ms': String(30 * DAY_MS), ...large } },
  ];
}

/** Step `decode`: bytes → a solution, or the reason the record cannot be one. */
export async function decodeSolution(codec: AvroCodec, record: ConsumedRecord): Promise<SolutionSubmitted | { invalid: string; error: unknown }> {
  if (record.value === null) return { invalid: 'record has no value (tombstone)', error: undefined };
  try {
    const solution = await codec.decode(record.value, 'SolutionSubmitted');
    if (solution.inputs.length === 0) return { invalid: 'solution has no inputs', error: undefined };
    return solution;
  } catch (error) {
    // A registry outage is not the record's fault: let it surface (the record is retried), never dead-letter it.
    if (isTracestreamError(error) && error.retriable) throw error;
    return { invalid: `undecodable SolutionSubmitted: ${describeError(error)}`, error };
  }
}

/**
 * Step `execute`: every input of the solution through the pool. Inputs run one after another, so a
 * topology bounds the runs it asks for by the solutions it has in flight. Never rejects for what a
 * program does (that is the trace's outcome).
 */
export async function executeSolution(pool: ExecutorPool, solution: SolutionSubmitted, limits: Partial<Limits>): Promise<ExecutionTrace[]> {
  const traces: ExecutionTrace[] = [];
  for (const [inputIndex, input] of solution.inputs.entries()) {
    const execution = await pool.run({
      runId: runIdOf(solution.solutionId, inputIndex),
      source: solution.source,
      stdin: input.stdin,
      limits,
    });
    traces.push(toTraceEvent(solution, inputIndex, execution));
  }
  return traces;
}

/** Step `encode`: each trace keyed by run id, and its diffs keyed by run id so they stay in step order. */
export async function encodeOutputs(
  codec: AvroCodec, topics: TraceTopics, solution: SolutionSubmitted, traces: readonly ExecutionTrace[], maxDiffsPerRun = 0,
): Promise<OutgoingRecord[]> {
  const records: OutgoingRecord[] = [];
  for (const trace of traces) {
    // One key buffer per run, and headers on the trace only: a run can have a million diffs, and
    // per-record conversions were most of the topology's own cost. Diffs carry schemaVersion inside.
    const key = Buffer.from(trace.runId);
    const headers = { 'tracestream.tracer-version': trace.tracerVersion, 'tracestream.schema-version': String(EVENT_SCHEMA_VERSION) };
    records.push({ topic: topics.traces, key, value: await codec.encode('ExecutionTrace', trace), headers });
    for (const value of await codec.encodeMany('LineDiff', toLineDiffs(trace, solution.source, maxDiffsPerRun))) {
      records.push({ topic: topics.diffs, key, value });
    }
  }
  return records;
}

/** Step `dead-letter`: the original bytes, where they came from and why they were refused. */
export async function encodeDeadLetter(codec: AvroCodec, topics: TraceTopics, record: ConsumedRecord, reason: string, error: unknown): Promise<OutgoingRecord> {
  const letter: DeadLetter = {
    schemaVersion: EVENT_SCHEMA_VERSION,
    reason,
    errorCode: isTracestreamError(error) ? error.code : null,
    sourceTopic: record.topic,
    sourcePartition: record.partition,
    sourceOffset: record.offset,
    key: record.key,
    value: record.value,
    headers: { ...record.headers },
    failedAtMs: Date.now(),
  };
  return {
    topic: topics.deadLetters,
    key: record.key,
    value: await codec.encode('DeadLetter', letter),
    headers: deadLetterHeaders(record, reason, error === undefined ? undefined : describeError(error)),
  };
}
