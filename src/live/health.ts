import type { ServerResponse } from 'node:http';
import type { Readiness } from '../telemetry/index.js';

/**
 * `/healthz` (the process answers) and `/readyz` (its streams are open) on serve's own port, for
 * a client or proxy in front of it; the same readiness is served on the telemetry port
 * (src/telemetry), which the manifests' probes use.
 */
export function answerHealth(path: string, readiness: () => Readiness, res: ServerResponse): boolean {
  if (path === '/healthz') {
    reply(res, 200, 'ok\n');
    return true;
  }
  if (path === '/readyz') {
    const { ready, reason } = readiness();
    reply(res, ready ? 200 : 503, `${ready ? 'ready' : 'not ready'}: ${reason}\n`);
    return true;
  }
  return false;
}

function reply(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}
