import { readSettings } from '../../config/settings.js';
import { installShutdown } from '../../kafka/index.js';
import { startLiveServer } from '../../live/index.js';
import { parseArgs } from '../args.js';
import type { Command } from '../command.js';
import { connect } from '../connect.js';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Serve live traces over HTTP: SSE streams and a page that steps through runs',
  usage: [
    'tracestream serve [--host 127.0.0.1] [--port 8080] [--token T] [--cors-origin ORIGIN] [--keep-runs N] [--client-buffer-bytes N]',
    '',
    'GET /                 the page: runs as they are traced; step through one (source, variables, output)',
    'GET /streams/traces   Server-Sent Events, one per trace; ?problem= ?solution= ?outcome= ?from=now|beginning|TIME',
    'GET /streams/diffs    the same for diffs (?solution= only); Last-Event-ID resumes right after that event',
    'GET /api/runs[/ID]    the recent runs the page shows; /healthz, /readyz',
    'Binds loopback unless --host says otherwise, which then needs --token (or TRACESTREAM_SERVE_TOKEN).',
  ].join('\n'),
  async run(argv) {
    const { flags } = parseArgs(argv);
    const settings = readSettings(flags);
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
    });
    shutdown.register('live server', () => server.close());
    process.stderr.write(`tracestream: serving live traces at ${server.url}/ (brokers ${connection.brokers.bootstrapServers})\n`);
    await new Promise<void>(() => undefined);
    return 0;
  },
};
