/**
 * Live trace streams: `subscribe()` (an RxJS Observable of decoded events), `tail` (a terminal
 * view) and `serve` (Server-Sent Events, a run list and step-through page).
 */
export { LIVE_STREAMS, parseLiveFrom, type LiveStream, type LiveEvent, type LiveEventOf, type LiveFrom } from './streams.js';
export { eventMatcher, liveFilterSchema, type LiveFilter } from './filter.js';
export { liveRecords, type LiveRecord, type LiveReaderOptions, type LiveRecordsHooks } from './records.js';
export { subscribe } from './subscribe.js';
export { eventId, parseEventId, type Cursor } from './cursor.js';
export { startStreamHub, type StreamHub, type HubMember, type HubDelivery } from './hub.js';
export { RecentRuns, type RunSummary, type RunDetail, type RecentRunsOptions } from './recent-runs.js';
export { startLiveServer, type LiveServer, type LiveServerOptions } from './server.js';
export { liveMetrics, type LiveMetrics, type DropReason, type ClientStream } from './metrics.js';
export { checkExposure, isLoopback } from './access.js';
export { startTail, type TailOptions, type RunningTail } from './tail.js';
export { wantsColour, renderTraceForTerminal, renderDiffForTerminal, painter } from './terminal.js';
