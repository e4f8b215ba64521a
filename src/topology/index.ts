/**
 * Building blocks of topologies: event mapping (runs → trace and diff events), the steps of the trace
 * topology, and solution readers. Runnable pipelines live in `topologies/`.
 */
export { EVENT_SCHEMA_VERSION, runIdOf, contentHashOf, toTraceEvent, toLineDiffs } from './events.js';
export { readSolutions } from './solutions.js';
export { DEFAULT_TRACE_TOPICS, decodeSolution, executeSolution, encodeOutputs, encodeDeadLetter, traceTopicSpecs, type TraceTopics } from './trace-steps.js';
export { Progress } from './progress.js';
export { serializeByKey } from './keyed.js';
export { collectTraces, readEvents, executionOf, type CollectTracesOptions, type ReadEventsOptions } from './collect.js';
export { MAX_MESSAGE_BYTES, eventBoundsSchema, fitTrace, fitDeadLetter, cutText, type EventBounds, type EventBoundsOptions } from './fit-event.js';
export { limitConcurrency } from './concurrency.js';
