import type { Registry } from 'prom-client';
import type { Settings } from '../config/settings.js';
import type { ShutdownHandle } from '../lifecycle/index.js';
import { startTelemetryServer, type ReadinessCheck, type TelemetryServer } from '../telemetry/index.js';

/**
 * Starts a long-running command's telemetry server when `--telemetry-port` /
 * TRACESTREAM_TELEMETRY_PORT is set (undefined otherwise), and registers its close.
 * Call it before the command registers anything else: teardowns run last-registered first, so the
 * server closes last and `/healthz` keeps answering (and `/readyz` says why not) while it drains.
 */
export async function serveTelemetry(
  settings: Pick<Settings, 'telemetryPort' | 'telemetryHost'>,
  shutdown: ShutdownHandle,
  registry: Registry,
  readiness: ReadinessCheck,
): Promise<TelemetryServer | undefined> {
  if (settings.telemetryPort === undefined) return undefined;
  const server = await startTelemetryServer({ port: settings.telemetryPort, host: settings.telemetryHost, registry, readiness });
  shutdown.register('telemetry server', () => server.close());
  process.stderr.write(`tracestream: telemetry on ${server.url} (/healthz /readyz /metrics)\n`);
  return server;
}
