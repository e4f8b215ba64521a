import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Argument, Command } from 'commander';
import { startTraceTopology, type RunningTraceTopology } from '../../../topologies/trace.js';
import { TracestreamError } from '../../errors/index.js';
import { installShutdown } from '../../lifecycle/index.js';
import { createMetricsRegistry, topologyMetrics } from '../../telemetry/index.js';
import { exitWith } from '../command.js';
import {
  CLUSTER_SETTINGS, LIMIT_SETTINGS, SANDBOX_SETTINGS, TELEMETRY_SETTINGS, TOPOLOGY_SETTINGS, connect, settingsOf, traceTopologyOptionsFrom, withSettings,
} from '../options.js';
import { serveTelemetry } from '../telemetry.js';

export function topologyCommand(): Command {
  const command = new Command('topology')
    .summary('Run a topology (trace) as a long-lived consumer until SIGTERM/SIGINT')
    .description([
      'Consumes `solutions`, writes `traces`, `diffs` and `solutions.dead-letter`. On SIGTERM/SIGINT it',
      'drains in-flight solutions, commits, disconnects, then exits 0. With --telemetry-port it serves',
      '/healthz, /readyz (ready once partitions are assigned) and /metrics (Prometheus) on that port.',
    ].join(' '))
    .addArgument(new Argument('<topology>', 'which topology to run').choices(['trace']))
    .option('--group-id <id>', 'consumer group of the topology', 'tracestream-trace')
    .option('--exactly-once', 'use Kafka transactions instead of at-least-once delivery (see README, Delivery)', false);
  withSettings(command, [...CLUSTER_SETTINGS, ...TOPOLOGY_SETTINGS, ...TELEMETRY_SETTINGS, 'shutdownDeadlineMs', 'concurrency', ...SANDBOX_SETTINGS, ...LIMIT_SETTINGS]);
  return command.action(exitWith(async (_topology: string, options: { groupId: string; exactlyOnce: boolean }) => {
    const settings = settingsOf(command);
    if (settings.kafkaBrokers === undefined) {
      throw new TracestreamError('CONFIG_INVALID', 'topology needs a cluster: set --brokers or KAFKA_BROKERS (start one with `tracestream broker`)');
    }
    // Installed before anything starts, so a SIGTERM during start-up also ends in a clean exit.
    // Teardowns run last-registered first: the topology drains while the registry is still there.
    const shutdown = installShutdown({ deadlineMs: settings.shutdownDeadlineMs });
    const registry = createMetricsRegistry();
    let topology: RunningTraceTopology | undefined;
    await serveTelemetry(settings, shutdown, registry, () => topology?.readiness() ?? { ready: false, reason: 'connecting to the brokers and registry' });
    const connection = await connect(settings);
    shutdown.register('registry and brokers', () => connection.close());
    const topologyOptions = traceTopologyOptionsFrom(settings, connection, {
      exactlyOnce: options.exactlyOnce,
      transactionalId: `tracestream-trace-${hostname()}-${randomUUID()}`,
      groupId: options.groupId,
    });
    const running = await startTraceTopology({ ...topologyOptions, metrics: topologyMetrics(registry) });
    topology = running;
    shutdown.register('trace topology', () => running.close());
    process.stderr.write(`tracestream: trace topology running (${topologyOptions.guarantee}) on ${connection.brokers.bootstrapServers}\n`);
    await running.done;
    return 0;
  }));
}
