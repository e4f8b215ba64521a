import { Option, type Command } from 'commander';
import { TracestreamError } from '../errors/index.js';
import { readSettings, SETTINGS, type Flags, type SettingName, type Settings } from '../config/settings.js';
import type { ExecutorPoolOptions } from '../executor/index.js';
import type { Limits } from '../runs/index.js';
import { openConnection, type Connection } from '../pipeline/index.js';
import type { TraceTopologyOptions } from '../../topologies/trace.js';

/**
 * Where settings become options: the commands declare which settings they take as flags, read them
 * here (flag, then environment, then default, validated by the settings table) and pass the library
 * plain options. Nothing below src/cli reads the settings table.
 */

/** Settings that say where the cluster and the schema registry are. */
export const CLUSTER_SETTINGS = [
  'kafkaBrokers', 'kafkaClientId', 'embeddedBrokerCount', 'schemaRegistryUrl',
  'kafkaSecurityProtocol', 'kafkaSaslMechanism', 'kafkaSaslUsername', 'kafkaSaslPassword', 'kafkaSslCaLocation',
] as const satisfies readonly SettingName[];
/** Settings of a long-running consumer of a topology. */
export const TOPOLOGY_SETTINGS = ['groupProtocol', 'sessionTimeoutMs', 'clusterDownTimeoutMs', 'maxDiffsPerRun', 'maxMessageBytes'] as const satisfies readonly SettingName[];
/** Where a long-running process serves /healthz, /readyz and /metrics (see src/cli/telemetry.ts). */
export const TELEMETRY_SETTINGS = ['telemetryPort', 'telemetryHost'] as const satisfies readonly SettingName[];
/** Per-run limits. */
export const LIMIT_SETTINGS = [
  'wallTimeMs', 'cpuTimeMs', 'addressSpaceBytes', 'outputBytes', 'maxSteps', 'traceBytes', 'openFiles', 'reprChars',
] as const satisfies readonly (SettingName & keyof Limits)[];
/** The interpreter and sandbox of the executor pool. */
export const SANDBOX_SETTINGS = ['python', 'sandboxUidBase'] as const satisfies readonly SettingName[];

/** Adds a `--flag <value>` for each named setting, described by the settings table. */
export function withSettings(command: Command, names: readonly SettingName[]): Command {
  for (const name of names) {
    const spec = SETTINGS[name];
    const env = `(env ${spec.env}${spec.default === undefined ? '' : `, default ${String(spec.default)}`})`;
    command.addOption(new Option(`${spec.flag} <value>`, `${spec.description} ${env}`));
  }
  return command;
}

/** Every setting, from the flags `withSettings` added to `command` and from the environment. */
export function settingsOf(command: Command): Settings {
  const flags: Record<string, string> = {};
  for (const option of command.options) {
    const value: unknown = command.getOptionValue(option.attributeName());
    if (typeof value === 'string' && option.long !== undefined) flags[option.long.slice(2)] = value;
  }
  return readSettings(flags satisfies Flags);
}

export function limitsFrom(settings: Settings): Limits {
  return Object.fromEntries(LIMIT_SETTINGS.map((name) => [name, settings[name]])) as unknown as Limits;
}

/** Executor pool options from the settings (concurrency, interpreter, sandbox uids, limits). */
function poolOptionsFrom(settings: Settings): ExecutorPoolOptions {
  return {
    limits: limitsFrom(settings),
    sandboxUidBase: settings.sandboxUidBase,
    ...(settings.concurrency === undefined ? {} : { concurrency: settings.concurrency }),
    ...(settings.python === undefined ? {} : { python: settings.python }),
  };
}

/** The cluster of --brokers / KAFKA_BROKERS (or an embedded one), and the registry the settings name. */
export function connect(settings: Settings): Promise<Connection> {
  return openConnection({
    bootstrapServers: settings.kafkaBrokers,
    embeddedBrokers: settings.embeddedBrokerCount,
    clientId: settings.kafkaClientId,
    schemaRegistryUrl: settings.schemaRegistryUrl,
    clientProperties: kafkaSecurityFrom(settings),
  });
}

/** The librdkafka security properties the settings ask for; a SASL protocol needs a user and password. */
export function kafkaSecurityFrom(
  settings: Pick<Settings, 'kafkaSecurityProtocol' | 'kafkaSaslMechanism' | 'kafkaSaslUsername' | 'kafkaSaslPassword' | 'kafkaSslCaLocation'>,
): Record<string, string> {
  const protocol = settings.kafkaSecurityProtocol;
  const properties: Record<string, string> = { 'security.protocol': protocol };
  if (protocol.startsWith('sasl_')) {
    if (settings.kafkaSaslUsername === undefined || settings.kafkaSaslPassword === undefined) {
      throw new TracestreamError('CONFIG_INVALID', `--kafka-security-protocol ${protocol} needs --kafka-sasl-username / KAFKA_SASL_USERNAME and --kafka-sasl-password / KAFKA_SASL_PASSWORD`);
    }
    properties['sasl.mechanisms'] = settings.kafkaSaslMechanism;
    properties['sasl.username'] = settings.kafkaSaslUsername;
    properties['sasl.password'] = settings.kafkaSaslPassword;
  }
  if (settings.kafkaSslCaLocation !== undefined) properties['ssl.ca.location'] = settings.kafkaSslCaLocation;
  return properties;
}

/** The trace topology on `connection`, as the settings and the --exactly-once switch ask. */
export function traceTopologyOptionsFrom(
  settings: Settings,
  connection: Connection,
  delivery: { exactlyOnce: boolean; transactionalId: string; groupId?: string },
): TraceTopologyOptions {
  const guarantee = delivery.exactlyOnce ? 'exactly-once' : 'at-least-once';
  return {
    client: connection.client,
    registry: connection.registry,
    embedded: connection.brokers.embedded,
    pool: poolOptionsFrom(settings),
    maxDiffsPerRun: settings.maxDiffsPerRun,
    eventBounds: { maxMessageBytes: settings.maxMessageBytes },
    sessionTimeoutMs: settings.sessionTimeoutMs,
    clusterDownTimeoutMs: settings.clusterDownTimeoutMs,
    ...(settings.groupProtocol === undefined ? {} : { groupProtocol: settings.groupProtocol }),
    ...(delivery.groupId === undefined ? {} : { groupId: delivery.groupId }),
    guarantee,
    ...(guarantee === 'exactly-once' ? { transactionalId: delivery.transactionalId } : {}),
  };
}
