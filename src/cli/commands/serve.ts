import { Command } from 'commander';
import { installShutdown } from '../../lifecycle/index.js';
import { checkExposure, startLiveServer } from '../../live/index.js';
import { exitWith } from '../command.js';
import { CLUSTER_SETTINGS, connect, settingsOf, withSettings } from '../options.js';

export function serveCommand(): Command {
  const command = new Command('serve')
    .summary('Serve live traces over HTTP: SSE streams and a page that steps through runs')
    .description([
      'GET / is the page: runs as they are traced; step through one (source, variables, output).',
      'GET /streams/traces and /streams/diffs are Server-Sent Events with ?problem= ?solution= ?outcome= (traces)',
      'and ?from=now|beginning|TIME; Last-Event-ID resumes right after that event. GET /api/runs[/ID] is what',
      'the page shows; /healthz and /readyz are the probes. It binds loopback unless --host says otherwise,',
      'which then needs --token (or TRACESTREAM_SERVE_TOKEN). Runs until SIGINT/SIGTERM.',
    ].join(' '));
  withSettings(command, [...CLUSTER_SETTINGS, 'shutdownDeadlineMs', 'serveHost', 'servePort', 'serveToken', 'serveCorsOrigin', 'serveClientBufferBytes', 'serveKeepRuns']);
  return command.action(exitWith(async () => {
    const settings = settingsOf(command);
    // Refused before anything starts: a server that may not bind must not leave a broker running.
    checkExposure(settings.serveHost, settings.serveToken);
    const shutdown = installShutdown({ deadlineMs: settings.shutdownDeadlineMs });
    const connection = await connect(settings);
    shutdown.register('registry and brokers', () => connection.close());
    const server = await startLiveServer({
      client: connection.client,
      codec: connection.codec,
      host: settings.serveHost,
      port: settings.servePort,
      maxClientBufferBytes: settings.serveClientBufferBytes,
      keepRuns: settings.serveKeepRuns,
      ...(settings.serveToken === undefined ? {} : { token: settings.serveToken }),
      ...(settings.serveCorsOrigin === undefined ? {} : { corsOrigin: settings.serveCorsOrigin }),
    }).catch(async (error: unknown) => {
      shutdown.dispose();
      await connection.close();
      throw error;
    });
    shutdown.register('live server', () => server.close());
    process.stderr.write(`tracestream: serving live traces at ${server.url}/ (brokers ${connection.brokers.bootstrapServers})\n`);
    // Serves until a signal runs the teardowns and exits.
    await new Promise<void>(() => undefined);
    return 0;
  }));
}
