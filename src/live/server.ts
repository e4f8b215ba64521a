import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { TracestreamError, describeError, isTracestreamError } from '../errors/index.js';
import { parseOptions, topicNameSchema } from '../kafka/client/config.js';
import { createMetricsRegistry, type Readiness } from '../telemetry/index.js';
import { checkExposure, hasToken } from './access.js';
import { parseEventId } from './cursor.js';
import { openEventStream, type EventStream, type EventStreamOptions } from './event-stream.js';
import { liveFilterSchema } from './filter.js';
import { answerHealth } from './health.js';
import { startStreamHub, type HubMember, type StreamHub } from './hub.js';
import { liveMetrics, type ClientStream } from './metrics.js';
import { loadPage, type Page } from './page.js';
import { RecentRuns, type RunSummary } from './recent-runs.js';
import { liveReaderSchema, type LiveReaderOptions } from './records.js';
import { LIVE_STREAMS, parseLiveFrom, type LiveStream } from './streams.js';

const liveServerSchema = liveReaderSchema.omit({ topic: true, from: true }).extend({
  topics: z.object({ traces: topicNameSchema.optional(), diffs: topicNameSchema.optional() }).default({}),
  /** Loopback by default; any other address needs `token`. */
  host: z.string().min(1).default('127.0.0.1'),
  /** 0: any free port (see `LiveServer.url`). */
  port: z.number().int().min(0).max(65_535).default(8080),
  token: z.string().min(16, 'a token of at least 16 characters').optional(),
  /** An origin allowed to read the API from another site (CORS); none by default. `*` allows any. */
  corsOrigin: z.string().min(1).optional(),
  maxClients: z.number().int().positive().default(1000),
  /** Per client: bytes waiting for its socket before it is dropped. */
  maxClientBufferBytes: z.number().int().positive().default(4 * 1024 * 1024),
  heartbeatMs: z.number().int().positive().default(15_000),
  dropGraceMs: z.number().int().nonnegative().default(5_000),
  retryMs: z.number().int().positive().default(2_000),
  /** Runs the page can open (the most recent). */
  keepRuns: z.number().int().positive().default(100),
  maxStepsPerRun: z.number().int().positive().default(10_000),
  /** How often the page's run list hears about runs that changed. */
  runUpdateIntervalMs: z.number().int().positive().default(250),
  /** Prometheus registry for the client metrics (see `liveMetrics`); default: one of its own. */
  registry: z.custom<Registry>((v) => typeof v === 'object' && v !== null && typeof (v as Registry).metrics === 'function', 'a prom-client Registry').optional(),
});

export type LiveServerOptions = z.input<typeof liveServerSchema> & Pick<LiveReaderOptions, 'client' | 'codec'>;

export interface LiveServer {
  /** `http://host:port` it listens on. */
  readonly url: string;
  /** Resolves once every stream's consumer has its partitions. */
  readonly ready: Promise<void>;
  /** Open event streams and the bytes waiting for their sockets (memory the clients hold): in all, and the most one holds. */
  stats(): { clients: number; bufferedBytes: number; maxClientBufferedBytes: number };
  /** Ready while both streams' consumers run (for /readyz here and on the telemetry server). */
  readiness(): Readiness;
  /** Ends every client, closes the consumers, stops listening. Idempotent. */
  close(): Promise<void>;
}

const EVENT_NAMES: Record<LiveStream, string> = { traces: 'trace', diffs: 'diff' };

/**
 * `tracestream serve`: Server-Sent Events at /streams/traces and /streams/diffs (filters and `from`
 * as query parameters, Last-Event-ID to resume), the run list and step-through page at /, its data
 * at /api/runs and /streams/runs, and /healthz, /readyz.
 *
 * One consumer per stream fans out to every client (see `startStreamHub`); each client has a
 * bounded buffer and is dropped, with a final event saying why, when it falls behind.
 */
export async function startLiveServer(options: LiveServerOptions): Promise<LiveServer> {
  const config = parseOptions(liveServerSchema, options, 'startLiveServer');
  checkExposure(config.host, config.token);
  const page = await loadPage();
  const reader = { client: config.client, codec: config.codec, maxInFlightPerPartition: config.maxInFlightPerPartition, topicWaitMs: config.topicWaitMs, ...(config.log === undefined ? {} : { log: config.log }) };
  const hubs: { [S in LiveStream]: StreamHub<S> } = {
    traces: startStreamHub('traces', { ...reader, topic: config.topics.traces ?? LIVE_STREAMS.traces.defaultTopic }),
    diffs: startStreamHub('diffs', { ...reader, topic: config.topics.diffs ?? LIVE_STREAMS.diffs.defaultTopic }),
  };
  const metrics = liveMetrics(config.registry ?? createMetricsRegistry({ processMetrics: false }));
  let shuttingDown = false;
  const readiness = (): Readiness => {
    if (shuttingDown) return { ready: false, reason: 'shutting down' };
    const closed = (['traces', 'diffs'] as const).filter((name) => !hubs[name].healthy).map((name) => hubs[name].topic);
    if (closed.length > 0) return { ready: false, reason: `the stream over ${closed.join(' and ')} is not open (waiting for its partitions, or it failed)` };
    return { ready: true, reason: `streams over ${hubs.traces.topic} and ${hubs.diffs.topic} are open` };
  };
  const runs = new RecentRuns({ maxRuns: config.keepRuns, maxStepsPerRun: config.maxStepsPerRun });
  const ignoreFailure = (): void => undefined;
  hubs.traces.join({ filter: {}, from: 'now', deliver: ({ event }) => runs.addTrace(event.event), fail: ignoreFailure });
  hubs.diffs.join({ filter: {}, from: 'now', deliver: ({ event }) => runs.addDiff(event.event), fail: ignoreFailure });

  // Every client of a stream is handed the same decoded event in turn: serialized once for all.
  const serializers = { traces: lastValueCache(), diffs: lastValueCache() };
  const streams = new Set<EventStream>();
  const runWatchers = new Set<EventStream>();
  const changedRuns = new Map<string, RunSummary>();
  const unwatchRuns = runs.onChange((summary) => changedRuns.set(summary.runId, summary));
  const runTimer = setInterval(() => {
    if (changedRuns.size === 0) return;
    const summaries = [...changedRuns.values()];
    changedRuns.clear();
    const data = JSON.stringify(summaries);
    for (const watcher of runWatchers) {
      if (watcher.send('runs', data)) metrics.eventsDelivered.inc({ stream: 'runs' });
    }
  }, config.runUpdateIntervalMs);
  runTimer.unref();

  const streamOptions = (req: IncomingMessage): EventStreamOptions => ({
    maxBufferedBytes: config.maxClientBufferBytes, heartbeatMs: config.heartbeatMs, dropGraceMs: config.dropGraceMs,
    retryMs: config.retryMs, headers: corsHeaders(req), onDropped: (reason) => metrics.clientsDropped.inc({ reason }),
  });

  function corsHeaders(req: IncomingMessage): Record<string, string> {
    const origin = req.headers.origin;
    if (config.corsOrigin === undefined || origin === undefined) return {};
    if (config.corsOrigin !== '*' && origin !== config.corsOrigin) return {};
    return { 'access-control-allow-origin': origin, vary: 'origin' };
  }

  function openStream(req: IncomingMessage, res: ServerResponse, name: ClientStream): EventStream | undefined {
    if (streams.size >= config.maxClients) {
      reply(res, 503, `too many clients (${config.maxClients}); try again later\n`);
      return undefined;
    }
    const stream = openEventStream(req, res, streamOptions(req));
    streams.add(stream);
    metrics.clientsConnected.inc({ stream: name });
    stream.onClose(() => {
      streams.delete(stream);
      metrics.clientsConnected.dec({ stream: name });
    });
    return stream;
  }

  function serveStream<S extends LiveStream>(name: S, req: IncomingMessage, res: ServerResponse, url: URL): void {
    const query = url.searchParams;
    const filter = parseOptions(liveFilterSchema, {
      ...(query.has('problem') ? { problem: query.get('problem') } : {}),
      ...(query.has('solution') ? { solution: query.get('solution') } : {}),
      ...(query.has('outcome') ? { outcome: query.get('outcome') } : {}),
    }, 'query');
    const hub = hubs[name];
    const lastEventId = req.headers['last-event-id'] ?? query.get('lastEventId') ?? undefined;
    let from: HubMember<S>['from'] = query.has('from') ? parseLiveFrom(query.get('from')!) : 'now';
    if (typeof lastEventId === 'string' && lastEventId !== '') {
      const { topic, cursor } = parseEventId(lastEventId);
      if (topic !== hub.topic) throw new TracestreamError('INPUT_INVALID', `Last-Event-ID names topic ${topic}, but this stream reads ${hub.topic}`);
      from = { cursor };
    }
    const stream = openStream(req, res, name);
    if (stream === undefined) return;
    const serialize = serializers[name];
    const leave = hub.join({
      filter,
      from,
      deliver: ({ event, id }) => {
        if (stream.send(EVENT_NAMES[name], serialize(event.event), id)) metrics.eventsDelivered.inc({ stream: name });
      },
      fail: (error) => stream.drop('stream-failed', `the stream failed: ${describeError(error)}`),
    });
    stream.onClose(leave);
  }

  function serveRunWatch(req: IncomingMessage, res: ServerResponse): void {
    const stream = openStream(req, res, 'runs');
    if (stream === undefined) return;
    runWatchers.add(stream);
    stream.onClose(() => runWatchers.delete(stream));
    stream.send('runs', JSON.stringify(runs.list()));
  }

  function route(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (answerHealth(path, readiness, res)) return;
    if (req.method === 'OPTIONS' && config.corsOrigin !== undefined) {
      res.writeHead(204, { ...corsHeaders(req), 'access-control-allow-methods': 'GET', 'access-control-allow-headers': 'authorization, last-event-id', 'access-control-max-age': '600' });
      res.end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply(res, 405, 'only GET\n', { allow: 'GET' });
      return;
    }
    if (config.token !== undefined && !hasToken(req, url, config.token)) {
      reply(res, 401, 'a bearer token is needed (Authorization: Bearer <token>, or ?access_token=<token>)\n', { 'www-authenticate': 'Bearer' });
      return;
    }
    const asset = page.assets.get(path === '/' ? '/index.html' : path);
    if (asset !== undefined) {
      res.writeHead(200, { 'content-type': asset.contentType, 'cache-control': 'no-cache', ...page.headers });
      res.end(asset.body);
      return;
    }
    if (path === '/streams/traces') return serveStream('traces', req, res, url);
    if (path === '/streams/diffs') return serveStream('diffs', req, res, url);
    if (path === '/streams/runs') return serveRunWatch(req, res);
    if (path === '/api/runs') return json(res, runs.list(), corsHeaders(req));
    if (path.startsWith('/api/runs/')) {
      const runId = decodeURIComponent(path.slice('/api/runs/'.length));
      const fromStep = Number(url.searchParams.get('fromStep') ?? '0');
      const detail = runs.get(runId, Number.isSafeInteger(fromStep) ? fromStep : 0);
      if (detail === undefined) reply(res, 404, 'no such run among the recent ones\n');
      else json(res, detail, corsHeaders(req));
      return;
    }
    reply(res, 404, 'not found\n');
  }

  const server = createServer((req, res) => {
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    try {
      route(req, res);
    } catch (error) {
      const status = isTracestreamError(error, 'CONFIG_INVALID') || isTracestreamError(error, 'INPUT_INVALID') ? 400 : 500;
      if (!res.headersSent) reply(res, status, `${error instanceof Error ? error.message : String(error)}\n`);
      else res.destroy();
    }
  });
  // Event streams are long-lived: no request timeout closes them.
  server.requestTimeout = 0;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    ready: Promise.all([hubs.traces.ready, hubs.diffs.ready]).then(() => undefined),
    stats() {
      let bufferedBytes = 0;
      let maxClientBufferedBytes = 0;
      for (const stream of streams) {
        bufferedBytes += stream.bufferedBytes;
        maxClientBufferedBytes = Math.max(maxClientBufferedBytes, stream.bufferedBytes);
      }
      return { clients: streams.size, bufferedBytes, maxClientBufferedBytes };
    },
    readiness,
    close() {
      closed ??= (async () => {
        shuttingDown = true;
        clearInterval(runTimer);
        unwatchRuns();
        for (const stream of [...streams]) stream.drop('shutdown', 'the server is shutting down');
        server.closeAllConnections();
        await Promise.all([
          new Promise<void>((resolve) => server.close(() => resolve())),
          hubs.traces.close(),
          hubs.diffs.close(),
        ]);
      })();
      return closed;
    },
  };
}

function reply(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(body);
}

function json(res: ServerResponse, value: unknown, headers: Record<string, string>): void {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(value));
}

function lastValueCache(): (value: object) => string {
  let last: object | undefined;
  let text = '';
  return (value) => {
    if (value !== last) {
      last = value;
      text = JSON.stringify(value);
    }
    return text;
  };
}
