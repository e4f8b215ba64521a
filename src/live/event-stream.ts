import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DropReason } from './metrics.js';

export interface EventStreamOptions {
  /**
   * Bytes written to this client and not yet taken by its socket. Past it the client is dropped:
   * a client that does not read must not hold the server's memory or slow anyone else.
   */
  maxBufferedBytes: number;
  /** A comment line this often keeps proxies from closing a quiet stream. */
  heartbeatMs: number;
  /** How long a dropped client has to take its final event before its socket is destroyed. */
  dropGraceMs: number;
  /** What the browser waits before reconnecting (the SSE `retry` field). */
  retryMs: number;
  /** Extra response headers (CORS). */
  headers?: Readonly<Record<string, string>>;
  /** Called once when the server ends this stream (not when the client leaves), with the reason's class. */
  onDropped?: (reason: DropReason) => void;
}

/** One client's Server-Sent Events response. */
export interface EventStream {
  /** Writes one event; false once the stream is closed (or it was just dropped for falling behind). */
  send(event: string, data: string, id?: string): boolean;
  /** Ends the stream with a final `dropped` event whose data says why (`message`). Idempotent. */
  drop(reason: DropReason, message: string): void;
  /** Bytes waiting for this client's socket. */
  readonly bufferedBytes: number;
  readonly closed: boolean;
  /** Called once when the stream ends, whoever ended it. */
  onClose(listener: () => void): void;
}

/**
 * Starts an SSE response (`text/event-stream`). Writes never wait: each event goes to the socket's
 * buffer, and a client whose buffer passes `maxBufferedBytes` is dropped with a final `dropped`
 * event whose data says why, then its socket is destroyed after `dropGraceMs` if it still has not
 * read it. So the memory a client can hold is about `maxBufferedBytes` plus one event.
 */
export function openEventStream(req: IncomingMessage, res: ServerResponse, options: EventStreamOptions): EventStream {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // nginx and similar proxies buffer responses unless told not to.
    'x-accel-buffering': 'no',
    ...options.headers,
  });
  res.write(`retry: ${options.retryMs}\n\n`);
  let closed = false;
  const listeners: (() => void)[] = [];
  const heartbeat = setInterval(() => {
    if (!closed) res.write(': keep-alive\n\n');
  }, options.heartbeatMs);
  heartbeat.unref();

  const finish = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    for (const listener of listeners.splice(0)) listener();
  };
  req.once('close', finish);
  res.once('close', finish);

  const stream: EventStream = {
    send(event, data, id) {
      if (closed) return false;
      res.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`);
      if (res.writableLength > options.maxBufferedBytes) {
        stream.drop('too-slow', `too slow: ${res.writableLength} bytes were waiting for this client (limit ${options.maxBufferedBytes}); reconnect with Last-Event-ID to resume`);
        return false;
      }
      return true;
    },
    drop(reason, message) {
      if (closed) return;
      res.end(`event: dropped\ndata: ${JSON.stringify({ reason: message })}\n\n`);
      finish();
      options.onDropped?.(reason);
      // A client that does not read never takes the final event: its socket (and what is buffered
      // for it) goes after the grace period.
      const timer = setTimeout(() => res.destroy(), options.dropGraceMs);
      timer.unref();
      res.once('close', () => clearTimeout(timer));
    },
    get bufferedBytes() {
      return closed && res.destroyed ? 0 : res.writableLength;
    },
    get closed() {
      return closed;
    },
    onClose(listener) {
      if (closed) listener();
      else listeners.push(listener);
    },
  };
  return stream;
}
