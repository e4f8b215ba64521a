import type { ServerResponse } from 'node:http';

/**
 * The probes of a long-running process, kept apart from the rest of the server so they can be
 * swapped for the shared ones (src/telemetry) without touching the routes.
 *
 * /healthz: the process answers. /readyz: it can do its work (here: every stream's consumer has its
 * partitions and is running).
 */
export interface HealthProbes {
  readonly ready: () => boolean;
}

export function answerHealth(path: string, probes: HealthProbes, res: ServerResponse): boolean {
  if (path === '/healthz') {
    reply(res, 200, 'ok\n');
    return true;
  }
  if (path === '/readyz') {
    const ready = probes.ready();
    reply(res, ready ? 200 : 503, ready ? 'ready\n' : 'not ready\n');
    return true;
  }
  return false;
}

function reply(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}
