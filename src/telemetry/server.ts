import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { TracestreamError, describeError } from '../errors/index.js';

/** What `/readyz` answers: ready or not, and a one-line reason a person can act on. */
export interface Readiness {
  ready: boolean;
  reason: string;
}

/**
 * Supplied by the process: true once it can do its work (broker reachable, partitions assigned,
 * the stream open). Called on every `/readyz` request, so it must be cheap (read state, no I/O).
 */
export type ReadinessCheck = () => Readiness | Promise<Readiness>;

const serverSchema = z.object({
  /** 0 picks a free port (tests); the chosen one is `TelemetryServer.port`. */
  port: z.number().int().min(0).max(65_535),
  /** 0.0.0.0 in a pod, so the kubelet and Prometheus reach it; 127.0.0.1 keeps it local. */
  host: z.string().min(1).default('0.0.0.0'),
  readiness: z.custom<ReadinessCheck>((v) => typeof v === 'function', 'a function returning { ready, reason }'),
  registry: z.custom<Registry>((v) => typeof v === 'object' && v !== null && typeof (v as Registry).metrics === 'function', 'a prom-client Registry'),
  /** A readiness check slower than this answers 503 (a probe must not hang). */
  readinessTimeoutMs: z.number().int().positive().default(2_000),
});

export type TelemetryServerOptions = z.input<typeof serverSchema>;

export interface TelemetryServer {
  /** The port it listens on (the one asked for, or the one the OS picked for port 0). */
  readonly port: number;
  /** `http://host:port`, for logs and tests. */
  readonly url: string;
  /** Stops listening and ends open connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * One HTTP server per long-running process, for the kubelet's probes and Prometheus:
 * - `GET /healthz`: 200 while the event loop answers (the liveness probe: a hung process is restarted);
 * - `GET /readyz`: 200 or 503 with the reason, from the process's own `readiness` check;
 * - `GET /metrics`: the registry in Prometheus text format.
 *
 * @example
 * const registry = createMetricsRegistry()
 * const telemetry = await startTelemetryServer({ port: 9464, registry, readiness: () => topology.readiness() })
 * shutdown.register('telemetry', () => telemetry.close())
 */
export async function startTelemetryServer(options: TelemetryServerOptions): Promise<TelemetryServer> {
  const parsed = serverSchema.safeParse(options);
  if (!parsed.success) {
    throw new TracestreamError('CONFIG_INVALID', `invalid startTelemetryServer options: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const config = parsed.data;
  const server = createServer((request, response) => {
    handle(config, request, response).catch((error: unknown) => answer(response, 500, `internal error: ${describeError(error)}\n`));
  });
  // Probes and scrapes are short; a client that opens a connection and sends nothing is dropped.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new TracestreamError('CONFIG_INVALID', `telemetry server could not listen on ${config.host}:${config.port}: ${describeError(error)}`, { cause: error })));
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

type ServerConfig = z.output<typeof serverSchema>;

async function handle(config: ServerConfig, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    answer(response, 405, 'only GET and HEAD\n', { allow: 'GET, HEAD' });
    return;
  }
  const path = (request.url ?? '/').split('?')[0];
  switch (path) {
    case '/healthz':
      answer(response, 200, 'ok\n');
      return;
    case '/readyz': {
      const readiness = await checkReadiness(config);
      answer(response, readiness.ready ? 200 : 503, `${readiness.ready ? 'ready' : 'not ready'}: ${readiness.reason}\n`);
      return;
    }
    case '/metrics':
      answer(response, 200, await config.registry.metrics(), { 'content-type': config.registry.contentType });
      return;
    default:
      answer(response, 404, 'not found: try /healthz, /readyz or /metrics\n');
  }
}

async function checkReadiness(config: ServerConfig): Promise<Readiness> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Readiness>((resolve) => {
    timer = setTimeout(() => resolve({ ready: false, reason: `readiness check took longer than ${config.readinessTimeoutMs} ms` }), config.readinessTimeoutMs);
  });
  try {
    return await Promise.race([
      Promise.resolve().then(config.readiness).catch((error: unknown) => ({ ready: false, reason: `readiness check failed: ${describeError(error)}` })),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function answer(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
