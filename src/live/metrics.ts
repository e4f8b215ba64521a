import { Counter, Gauge, type Registry } from 'prom-client';

/** Why a client's event stream was ended by the server (a label: few values). */
export type DropReason = 'too-slow' | 'stream-failed' | 'shutdown';

/** The streams a client can open: the two event streams and the page's run list. */
export type ClientStream = 'traces' | 'diffs' | 'runs';

/**
 * What `serve` tells Prometheus about its clients. Labels take bounded values only (stream names,
 * drop reasons), never client addresses or run ids.
 */
export interface LiveMetrics {
  /** Open event streams now, by stream. */
  readonly clientsConnected: Gauge<'stream'>;
  /** Events written to clients, by stream (one per client an event went to). */
  readonly eventsDelivered: Counter<'stream'>;
  /** Clients the server ended, by reason. */
  readonly clientsDropped: Counter<'reason'>;
}

const created = new WeakMap<Registry, LiveMetrics>();

/** The live server's metrics in `registry`, created on first use (a second server shares them). */
export function liveMetrics(registry: Registry): LiveMetrics {
  const existing = created.get(registry);
  if (existing !== undefined) return existing;
  const registers = [registry];
  const metrics: LiveMetrics = {
    clientsConnected: new Gauge({ name: 'tracestream_live_clients', help: 'Open event streams, by stream (traces, diffs, runs).', labelNames: ['stream'], registers }),
    eventsDelivered: new Counter({ name: 'tracestream_live_events_delivered_total', help: 'Events written to clients, by stream (one per client).', labelNames: ['stream'], registers }),
    clientsDropped: new Counter({ name: 'tracestream_live_clients_dropped_total', help: 'Clients the server ended, by reason (too-slow, stream-failed, shutdown).', labelNames: ['reason'], registers }),
  };
  created.set(registry, metrics);
  return metrics;
}
