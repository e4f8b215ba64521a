import type { AvroCodec, DeadLetter, ExecutionTrace, SolutionSubmitted } from '../avro/index.js';
import { TracestreamError, describeError, isTracestreamError } from '../errors/index.js';
import type { ExecutorPool } from '../executor/index.js';
import type { Limits } from '../runs/index.js';
import { deadLetterHeaders, type ConsumedRecord, type OutgoingRecord, type TopicSpec } from '../kafka/index.js';
import { EVENT_SCHEMA_VERSION, runIdOf, toLineDiffs, toTraceEvent } from './events.js';
import { MAX_MESSAGE_BYTES, cutText, eventBoundsSchema, fitDeadLetter, fitTrace, keyAndHeaderBytes, type EventBounds } from './fit-event.js';

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
export function traceTopicSpecs(topics: TraceTopics, partitions = 12, maxMessageBytes = MAX_MESSAGE_BYTES): TopicSpec[] {
  const large = { 'max.message.bytes': String(maxMessageBytes) };
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
 * program does (that is the trace's outcome); rejects with RUN_CANCELLED once `signal` aborts.
 */
export async function executeSolution(
  pool: ExecutorPool, solution: SolutionSubmitted, limits: Partial<Limits>, signal?: AbortSignal,
): Promise<ExecutionTrace[]> {
  const traces: ExecutionTrace[] = [];
  for (const [inputIndex, input] of solution.inputs.entries()) {
    const execution = await pool.run({
      runId: runIdOf(solution.solutionId, inputIndex),
      source: solution.source,
      stdin: input.stdin,
      limits,
    }, signal === undefined ? {} : { signal });
    traces.push(toTraceEvent(solution, inputIndex, execution));
  }
  return traces;
}

/**
 * Step `encode`: each trace keyed by run id, and its diffs keyed by run id so they stay in step
 * order. Every event is cut to fit one record of `bounds.maxMessageBytes` first (see `fitTrace`).
 */
export async function encodeOutputs(
  codec: AvroCodec, topics: TraceTopics, solution: SolutionSubmitted, traces: readonly ExecutionTrace[], maxDiffsPerRun = 0,
  bounds: EventBounds = eventBoundsSchema.parse({}),
): Promise<OutgoingRecord[]> {
  const records: OutgoingRecord[] = [];
  for (const unbounded of traces) {
    // One key buffer per run, and headers on the trace only: a run can have a million diffs, and
    // per-record conversions were most of the topology's own cost. Diffs carry schemaVersion inside.
    const key = Buffer.from(unbounded.runId);
    const headers = { 'tracestream.tracer-version': unbounded.tracerVersion, 'tracestream.schema-version': String(EVENT_SCHEMA_VERSION) };
    const trace = fitTrace(unbounded, bounds, keyAndHeaderBytes(key, headers));
    records.push({ topic: topics.traces, key, value: await codec.encode('ExecutionTrace', trace), headers });
    for (const value of await codec.encodeMany('LineDiff', toLineDiffs(trace, solution.source, maxDiffsPerRun, bounds.sourceLineChars))) {
      records.push({ topic: topics.diffs, key, value });
    }
  }
  for (const record of records) {
    // fitTrace bounds every event from above; a record past the bound is a bug here, kept out of the broker.
    if (record.value !== null && record.value.length + keyAndHeaderBytes(record.key, record.headers) > bounds.maxMessageBytes) {
      throw new TracestreamError('EVENT_TOO_LARGE', `an event of ${String(record.key).slice(0, 200)} is ${record.value.length} bytes, past ${bounds.maxMessageBytes}`);
    }
  }
  return records;
}

/**
 * Step `dead-letter`: the original bytes, where they came from and why they were refused, cut to
 * fit one record (see `fitDeadLetter`): a dead letter is never itself too large to send.
 */
export async function encodeDeadLetter(
  codec: AvroCodec, topics: TraceTopics, record: ConsumedRecord, reason: string, error: unknown,
  bounds: EventBounds = eventBoundsSchema.parse({}),
): Promise<OutgoingRecord> {
  const errorText = error === undefined ? undefined : cutText(describeError(error), bounds.valueChars);
  const headersOf = (letter: DeadLetter) => deadLetterHeaders({ ...record, headers: letter.headers }, letter.reason, errorText);
  const letter = fitDeadLetter({
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
    cut: [],
  }, bounds, (candidate) => keyAndHeaderBytes(candidate.key, headersOf(candidate)));
  return {
    topic: topics.deadLetters,
    key: letter.key,
    value: await codec.encode('DeadLetter', letter),
    headers: headersOf(letter),
  };
}
