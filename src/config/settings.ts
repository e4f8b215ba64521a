import { z } from 'zod';
import { TracestreamError } from '../errors/index.js';
import { DEFAULT_SANDBOX_UID_BASE } from '../executor/index.js';
import { DEFAULT_LIMITS } from '../runs/index.js';
import { DEFAULT_MAX_DIFFS_PER_RUN } from '../pipeline/events.js';

/**
 * Every setting tracestream reads, in one place: its environment variable, its command-line flag,
 * its default and its meaning. Only the CLI (src/cli) reads them, through `readSettings`, so a flag
 * always beats the environment, which beats the default, and `tracestream help` can list them all;
 * the library below takes what they resolve to as options. Defaults that belong to the library
 * (limits, diffs per run) are imported from it, so they are written once.
 */
export interface Setting<T> {
  env: string;
  flag: string;
  description: string;
  schema: z.ZodType<T>;
  default: T | undefined;
}

function setting<T>(spec: Setting<T>): Setting<T> {
  return spec;
}

const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().nonnegative();

export const SETTINGS = {
  kafkaBrokers: setting({
    env: 'KAFKA_BROKERS', flag: '--brokers',
    description: 'Bootstrap servers (host:port,...) of a real Kafka cluster. Unset: an embedded librdkafka mock cluster is started.',
    schema: z.string().min(1), default: undefined,
  }),
  kafkaClientId: setting({
    env: 'TRACESTREAM_KAFKA_CLIENT_ID', flag: '--kafka-client-id',
    description: 'client.id our Kafka clients send to the brokers (shows in broker logs and quotas).',
    schema: z.string().min(1), default: 'tracestream',
  }),
  embeddedBrokerCount: setting({
    env: 'TRACESTREAM_EMBEDDED_BROKERS', flag: '--brokers-count',
    description: 'Brokers of the embedded librdkafka mock cluster started when --brokers / KAFKA_BROKERS is unset.',
    schema: positiveInt, default: 1,
  }),
  shutdownDeadlineMs: setting({
    env: 'TRACESTREAM_SHUTDOWN_DEADLINE_MS', flag: '--shutdown-deadline-ms',
    description: 'On SIGTERM/SIGINT, time allowed to drain, commit and disconnect before exiting with status 1.',
    schema: positiveInt, default: 30_000,
  }),
  kafkaSecurityProtocol: setting({
    env: 'KAFKA_SECURITY_PROTOCOL', flag: '--kafka-security-protocol',
    description: 'How clients talk to the brokers: plaintext, ssl (TLS), sasl_plaintext or sasl_ssl (SASL login, over TLS for sasl_ssl).',
    schema: z.enum(['plaintext', 'ssl', 'sasl_plaintext', 'sasl_ssl']), default: 'plaintext',
  }),
  kafkaSaslMechanism: setting({
    env: 'KAFKA_SASL_MECHANISM', flag: '--kafka-sasl-mechanism',
    description: 'SASL mechanism with sasl_* protocols (Strimzi KafkaUsers with scram-sha-512 authentication use SCRAM-SHA-512).',
    schema: z.enum(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']), default: 'SCRAM-SHA-512',
  }),
  kafkaSaslUsername: setting({
    env: 'KAFKA_SASL_USERNAME', flag: '--kafka-sasl-username',
    description: 'SASL user name (the KafkaUser name on Strimzi); required with sasl_* protocols.',
    schema: z.string().min(1), default: undefined,
  }),
  kafkaSaslPassword: setting({
    env: 'KAFKA_SASL_PASSWORD', flag: '--kafka-sasl-password',
    description: 'SASL password (Strimzi: the `password` key of the KafkaUser\'s Secret); required with sasl_* protocols. Prefer the variable to the flag (ps shows flags).',
    schema: z.string().min(1), default: undefined,
  }),
  kafkaSslCaLocation: setting({
    env: 'KAFKA_SSL_CA_LOCATION', flag: '--kafka-ssl-ca-location',
    description: 'PEM file of the CA that signed the brokers\' certificates (Strimzi: ca.crt of the <cluster>-cluster-ca-cert Secret). Unset: the system CAs.',
    schema: z.string().min(1), default: undefined,
  }),
  telemetryPort: setting({
    env: 'TRACESTREAM_TELEMETRY_PORT', flag: '--telemetry-port',
    description: 'Port of the /healthz, /readyz and /metrics server of long-running processes (topology, serve, model consumer; the manifests use 9464); 0 picks a free one (printed at start). Unset: no server.',
    schema: z.coerce.number().int().min(0).max(65_535), default: undefined,
  }),
  telemetryHost: setting({
    env: 'TRACESTREAM_TELEMETRY_HOST', flag: '--telemetry-host',
    description: 'Address the telemetry server listens on (0.0.0.0: reachable by the kubelet and Prometheus; 127.0.0.1: this machine only).',
    schema: z.string().min(1), default: '0.0.0.0',
  }),
  schemaRegistryUrl: setting({
    env: 'SCHEMA_REGISTRY_URL', flag: '--schema-registry',
    description: 'Confluent-compatible Schema Registry. Unset: schemas are kept in the built-in registry topic.',
    schema: z.string().url(), default: undefined,
  }),
  python: setting({
    env: 'TRACESTREAM_PYTHON', flag: '--python',
    description: 'Python 3 interpreter that runs programs. Unset: the first of /usr/bin/python3, python3 on PATH that the sandbox user can execute.',
    schema: z.string().min(1), default: undefined,
  }),
  sandboxUidBase: setting({
    env: 'TRACESTREAM_SANDBOX_UID_BASE', flag: '--sandbox-uid-base',
    description: 'When started as root, each pool slot claims the first uid from BASE up (1000 of them) that no other executor on the host holds, and runs its programs as that uid and gid (no account needed).',
    schema: z.coerce.number().int().min(1000).max(2 ** 31 - 1024), default: DEFAULT_SANDBOX_UID_BASE,
  }),
  concurrency: setting({
    env: 'TRACESTREAM_CONCURRENCY', flag: '--concurrency',
    description: 'Programs run at once (executor pool size).',
    schema: positiveInt, default: undefined,
  }),
  wallTimeMs: setting({
    env: 'TRACESTREAM_WALL_TIME_MS', flag: '--wall-time-ms',
    description: 'Wall-clock limit of one run.', schema: positiveInt, default: DEFAULT_LIMITS.wallTimeMs,
  }),
  cpuTimeMs: setting({
    env: 'TRACESTREAM_CPU_TIME_MS', flag: '--cpu-time-ms',
    description: 'CPU-time limit of one run.', schema: positiveInt, default: DEFAULT_LIMITS.cpuTimeMs,
  }),
  addressSpaceBytes: setting({
    env: 'TRACESTREAM_ADDRESS_SPACE_BYTES', flag: '--address-space-bytes',
    description: 'Address-space (virtual memory) limit of one run.', schema: positiveInt, default: DEFAULT_LIMITS.addressSpaceBytes,
  }),
  outputBytes: setting({
    env: 'TRACESTREAM_OUTPUT_BYTES', flag: '--output-bytes',
    description: 'Bytes of stdout (and of the OUTPUT_PATH file) one run may write.', schema: positiveInt, default: DEFAULT_LIMITS.outputBytes,
  }),
  maxSteps: setting({
    env: 'TRACESTREAM_MAX_STEPS', flag: '--max-steps',
    description: 'Trace steps before a run is stopped (step-limit); 0 lifts the limit. The trace-bytes cut usually comes first and lets the program finish untraced, so its output stays complete.',
    schema: nonNegativeInt, default: DEFAULT_LIMITS.maxSteps,
  }),
  traceBytes: setting({
    env: 'TRACESTREAM_TRACE_BYTES', flag: '--trace-bytes',
    description: 'Bytes of encoded trace kept per run (2 MiB: tens of thousands of steps, far more than a language model reads of one run); past it the trace is cut and the program runs on untraced, so its output stays complete.',
    schema: positiveInt, default: DEFAULT_LIMITS.traceBytes,
  }),
  groupProtocol: setting({
    env: 'TRACESTREAM_GROUP_PROTOCOL', flag: '--group-protocol',
    description: "Consumer group protocol of topologies: classic (any broker) or consumer (KIP-848: Kafka 4.0+, no 3 s join delay). Unset: consumer on the embedded broker, classic elsewhere.",
    schema: z.enum(['classic', 'consumer']), default: undefined,
  }),
  sessionTimeoutMs: setting({
    env: 'TRACESTREAM_SESSION_TIMEOUT_MS', flag: '--session-timeout-ms',
    description: 'Consumer group session timeout: how soon the partitions of a crashed topology process go to another member.',
    schema: z.coerce.number().int().min(3000), default: 45_000,
  }),
  clusterDownTimeoutMs: setting({
    env: 'TRACESTREAM_CLUSTER_DOWN_TIMEOUT_MS', flag: '--cluster-down-timeout-ms',
    description: 'How long no Kafka broker may answer (probed every few seconds, even when idle; not ready meanwhile) before a topology stops with KAFKA_DISCONNECTED.',
    schema: z.coerce.number().int().min(1000), default: 60_000,
  }),
  maxMessageBytes: setting({
    env: 'TRACESTREAM_MAX_MESSAGE_BYTES', flag: '--max-message-bytes',
    description: "Largest record of the trace topology's topics (their max.message.bytes, the producer's message.max.bytes): every trace, diff and dead letter is cut to fit it, and says what was cut.",
    schema: z.coerce.number().int().min(64 * 1024), default: 32 * 1024 * 1024,
  }),
  maxDiffsPerRun: setting({
    env: 'TRACESTREAM_MAX_DIFFS_PER_RUN', flag: '--max-diffs-per-run',
    description: 'LineDiff events emitted per run (its first steps); the ExecutionTrace always holds every step. 0 emits one per step.',
    schema: nonNegativeInt, default: DEFAULT_MAX_DIFFS_PER_RUN,
  }),
  openFiles: setting({
    env: 'TRACESTREAM_OPEN_FILES', flag: '--open-files',
    description: 'Open file descriptors one run may hold.', schema: positiveInt, default: DEFAULT_LIMITS.openFiles,
  }),
  reprChars: setting({
    env: 'TRACESTREAM_REPR_CHARS', flag: '--repr-chars',
    description: 'Longest value repr kept in a trace before it is cut with a marker.', schema: positiveInt, default: DEFAULT_LIMITS.reprChars,
  }),
  serveHost: setting({
    env: 'TRACESTREAM_SERVE_HOST', flag: '--host',
    description: 'Address `serve` listens on. Anything but loopback needs --token.',
    schema: z.string().min(1), default: '127.0.0.1',
  }),
  servePort: setting({
    env: 'TRACESTREAM_SERVE_PORT', flag: '--port',
    description: 'Port `serve` listens on (0: any free port, printed at start).',
    schema: z.coerce.number().int().min(0).max(65_535), default: 8080,
  }),
  serveToken: setting({
    env: 'TRACESTREAM_SERVE_TOKEN', flag: '--token',
    description: 'Bearer token `serve` requires of every request but /healthz and /readyz (Authorization: Bearer, or ?access_token= for the page). Required off loopback.',
    schema: z.string().min(16, 'at least 16 characters'), default: undefined,
  }),
  serveCorsOrigin: setting({
    env: 'TRACESTREAM_SERVE_CORS_ORIGIN', flag: '--cors-origin',
    description: 'Origin allowed to read `serve`\'s API from another site (`*`: any). Unset: no CORS headers.',
    schema: z.string().min(1), default: undefined,
  }),
  serveClientBufferBytes: setting({
    env: 'TRACESTREAM_SERVE_CLIENT_BUFFER_BYTES', flag: '--client-buffer-bytes',
    description: 'Bytes `serve` holds for one slow event-stream client before it drops it (with a final event saying why).',
    schema: positiveInt, default: 4 * 1024 * 1024,
  }),
  serveKeepRuns: setting({
    env: 'TRACESTREAM_SERVE_KEEP_RUNS', flag: '--keep-runs',
    description: 'Recent runs `serve` keeps for its page to open.',
    schema: positiveInt, default: 100,
  }),
} as const;

export type SettingName = keyof typeof SETTINGS;
type ValueOf<N extends SettingName> = (typeof SETTINGS)[N] extends Setting<infer T> ? T : never;
export type Settings = { [N in SettingName]: ValueOf<N> };

/** Flags as parsed from argv: `--name value` or `--name=value`. */
export type Flags = Readonly<Record<string, string | boolean | undefined>>;

/**
 * Resolves every setting: flag, then environment, then default; validates each and names the
 * flag and variable in the error.
 */
export function readSettings(flags: Flags = {}, env: NodeJS.ProcessEnv = process.env): Settings {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(SETTINGS) as [SettingName, Setting<unknown>][]) {
    const fromFlag = flags[spec.flag.slice(2)];
    const raw = typeof fromFlag === 'string' ? fromFlag : env[spec.env] === '' ? undefined : env[spec.env];
    if (raw === undefined) {
      out[name] = spec.default;
      continue;
    }
    const parsed = spec.schema.safeParse(raw);
    if (!parsed.success) {
      throw new TracestreamError(
        'CONFIG_INVALID',
        `${spec.flag} / ${spec.env}: ${JSON.stringify(raw)} is not valid (${parsed.error.issues[0]?.message ?? 'invalid'}); ${spec.description}`,
        { details: { setting: name } },
      );
    }
    out[name] = parsed.data;
  }
  return out as Settings;
}

/** The settings table as text, for `tracestream help` and the README. */
export function describeSettings(): string {
  return Object.values(SETTINGS)
    .map((s) => `  ${s.flag.padEnd(24)} ${s.env.padEnd(32)} ${s.description}${s.default === undefined ? '' : ` (default ${s.default})`}`)
    .join('\n');
}
