import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { TracestreamError } from '../errors/index.js';

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/**
 * Serving beyond loopback shows other people's programs and their output to whoever can reach
 * the port, so it needs a token; on loopback one is optional.
 */
export function checkExposure(host: string, token: string | undefined): void {
  if (!isLoopback(host) && (token === undefined || token === '')) {
    throw new TracestreamError('CONFIG_INVALID', `serve: binding ${host} (not loopback) needs a bearer token: pass --token or set TRACESTREAM_SERVE_TOKEN`);
  }
}

/**
 * Whether a request carries the token: `Authorization: Bearer <token>`, or `access_token=<token>`
 * in the query for the browser's EventSource, which cannot set headers (RFC 6750, 2.3). Compared
 * in constant time (digests of equal length), so response times do not reveal a prefix.
 */
export function hasToken(req: IncomingMessage, url: URL, token: string): boolean {
  const header = req.headers.authorization;
  const given = header?.startsWith('Bearer ') === true ? header.slice('Bearer '.length) : url.searchParams.get('access_token');
  if (given === null || given === undefined) return false;
  return timingSafeEqual(digest(given), digest(token));
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
