import { Command } from 'commander';
import { installShutdown } from '../../lifecycle/index.js';
import { checkExposure, startLiveServer, type LiveServer } from '../../live/index.js';
import { createMetricsRegistry } from '../../telemetry/index.js';
import { exitWith } from '../command.js';
import { CLUSTER_SETTINGS, TELEMETRY_SETTINGS, connect, settingsOf, withSettings } from '../options.js';
import { serveTelemetry } from '../telemetry.js';

export function serveCommand(): Command {
  const command = new Command('serve')
    .summary('Serve live traces over HTTP: SSE streams and a page that steps through runs')
    .description([
      'GET / is the page: runs as they are traced; step through one (source, variables, output).',
      'GET /streams/traces and /streams/diffs are Server-Sent Events with ?problem= ?solution= ?outcome=',
      'and ?from=now|beginning|TIME; Last-Event-ID resumes right after that event. GET /api/runs[/ID] is what',
      'the page shows; /healthz and /readyz are the probes. With --telemetry-port it also serves /healthz, /readyz',
      '(ready once both streams are open) and /metrics (clients, events delivered, clients dropped) on that port.',
      'It binds loopback unless --host says otherwise,',
      'which then needs --token (or TRACESTREAM_SERVE_TOKEN). Runs until SIGINT/SIGTERM.',
    ].join(' '));
  withSettings(command, [...CLUSTER_SETTINGS, ...TELEMETRY_SETTINGS, 'shutdownDeadlineMs', 'serveHost', 'servePort', 'serveToken', 'serveCorsOrigin', 'serveClientBufferBytes', 'serveKeepRuns']);
  return command.action(exitWith(async () => {
    const settings = settingsOf(command);
    // Refused before anything starts: a server that may not bind must not leave a broker running.
    checkExposure(settings.serveHost, settings.serveToken);
    const shutdown = installShutdown({ deadlineMs: settings.shutdownDeadlineMs });
    const registry = createMetricsRegistry();
    let live: LiveServer | undefined;
    const telemetry = await serveTelemetry(settings, shutdown, registry, () => live?.readiness() ?? { ready: false, reason: 'connecting to the brokers and registry' });
    const connection = await connect(settings).catch(async (error: unknown) => {
      await telemetry?.close();
      throw error;
    });
    shutdown.register('registry and brokers', () => connection.close());
    const server = await startLiveServer({
      client: connection.client,
      codec: connection.codec,
      host: settings.serveHost,
      port: settings.servePort,
      maxClientBufferBytes: settings.serveClientBufferBytes,
      keepRuns: settings.serveKeepRuns,
      registry,
      ...(settings.serveToken === undefined ? {} : { token: settings.serveToken }),
      ...(settings.serveCorsOrigin === undefined ? {} : { corsOrigin: settings.serveCorsOrigin }),
    }).catch(async (error: unknown) => {
      shutdown.dispose();
      await connection.close();
      await telemetry?.close();
      throw error;
    });
    live = server;
    shutdown.register('live server', () => server.close());
    process.stderr.write(`tracestream: serving live traces at ${server.url}/ (brokers ${connection.brokers.bootstrapServers})\n`);
    // Serves until a signal runs the teardowns and exits.
    await new Promise<void>(() => undefined);
    return 0;
  }));
}
