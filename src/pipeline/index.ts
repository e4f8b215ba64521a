/**
 * Building blocks of topologies: event mapping (runs → trace and diff events), the steps of the trace
 * topology, and solution readers. Runnable pipelines live in `topologies/`.
 */
export { EVENT_SCHEMA_VERSION, DEFAULT_MAX_DIFFS_PER_RUN, runIdOf, contentHashOf, toTraceEvent, toLineDiffs } from './events.js';
export { readSolutions } from './solutions.js';
export { DEFAULT_TRACE_TOPICS, decodeSolution, executeSolution, encodeOutputs, encodeDeadLetter, traceTopicSpecs, type TraceTopics } from './trace-steps.js';
export { openConnection, type Connection, type OpenConnectionOptions } from './connection.js';
export { produceSolutions } from './produce-solutions.js';
export { serializeByKey } from './keyed.js';
export { traceTuning, type TraceTuning, type TraceTuningInput } from './trace-tuning.js';
export { awaitRuns, collectTraces, readEvents, executionOf, type AwaitRunsOptions, type CollectTracesOptions, type ReadEventsOptions } from './collect.js';
export { MAX_MESSAGE_BYTES, eventBoundsSchema, fitTrace, fitDeadLetter, cutText, type EventBounds, type EventBoundsOptions } from './fit-event.js';
export { limitConcurrency } from './concurrency.js';
export { TopologyProbe } from './topology-probe.js';
