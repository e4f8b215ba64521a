import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { startTraceTopology, type RunningTraceTopology } from '../../../topologies/trace.js';
import { readSettings } from '../../config/settings.js';
import { TracestreamError } from '../../errors/index.js';
import { installShutdown } from '../../kafka/index.js';
import { createMetricsRegistry, topologyMetrics } from '../../telemetry/index.js';
import { parseArgs } from '../args.js';
import type { Command } from '../command.js';
import { connect } from '../connect.js';
import { serveTelemetry } from '../telemetry.js';
import { guaranteeFrom, poolOptionsFrom } from '../topology-options.js';

export const topologyCommand: Command = {
  name: 'topology',
  summary: 'Run a topology (trace) as a long-lived consumer until SIGTERM/SIGINT',
  usage: [
    'tracestream topology trace [--brokers host:port] [--group-id ID] [--exactly-once] [--concurrency N] [limit flags]',
    '',
    'Consumes `solutions`, writes `traces`, `diffs` and `solutions.dead-letter`. On SIGTERM/SIGINT it',
    'drains, commits and disconnects within --shutdown-deadline-ms, then exits 0. With --telemetry-port',
    '(TRACESTREAM_TELEMETRY_PORT) it serves /healthz, /readyz (partitions assigned) and /metrics there.',
  ].join('\n'),
  async run(argv) {
    const { positionals, flags } = parseArgs(argv, new Set(['exactly-once']));
    if (positionals[0] !== 'trace' || positionals.length !== 1) {
      throw new TracestreamError('CONFIG_INVALID', `unknown topology ${JSON.stringify(positionals.join(' '))}; known: trace`);
    }
    const settings = readSettings(flags);
    if (settings.kafkaBrokers === undefined) {
      throw new TracestreamError('CONFIG_INVALID', 'topology needs a cluster: set --brokers or KAFKA_BROKERS (start one with `tracestream broker`)');
    }
    const guarantee = guaranteeFrom(flags);
    // Installed before anything starts, so a SIGTERM during start-up also ends in a clean exit.
    // Teardowns run last-registered first: the topology drains while the registry is still there.
    const shutdown = installShutdown({ deadlineMs: settings.shutdownDeadlineMs });
    const registry = createMetricsRegistry();
    let topology: RunningTraceTopology | undefined;
    await serveTelemetry(settings, shutdown, registry, () => topology?.readiness() ?? { ready: false, reason: 'connecting to the brokers and registry' });
    const connection = await connect(settings);
    shutdown.register('registry and brokers', () => connection.close());
    topology = await startTraceTopology({
      metrics: topologyMetrics(registry),
      client: connection.client,
      registry: connection.registry,
      embedded: connection.brokers.embedded,
      groupId: typeof flags['group-id'] === 'string' ? flags['group-id'] : 'tracestream-trace',
      pool: poolOptionsFrom(settings),
      maxDiffsPerRun: settings.maxDiffsPerRun,
      sessionTimeoutMs: settings.sessionTimeoutMs,
      ...(settings.groupProtocol === undefined ? {} : { groupProtocol: settings.groupProtocol }),
      guarantee,
      ...(guarantee === 'exactly-once' ? { transactionalId: `tracestream-trace-${hostname()}-${randomUUID()}` } : {}),
    });
    shutdown.register('trace topology', () => topology.close());
    process.stderr.write(`tracestream: trace topology running (${guarantee}) on ${connection.brokers.bootstrapServers}\n`);
    await topology.done;
    return 0;
  },
};
