import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { readSettings } from '../../src/config/settings.js';
import { TracestreamError } from '../../src/errors/index.js';

/**
 * A Kafka cluster for a test file: KAFKA_BROKERS when set; else, with TRACESTREAM_TEST_KAFKA=testcontainers,
 * a real broker in Docker; else `tracestream broker` (librdkafka's mock cluster) in a child process.
 */
export interface TestBroker {
  bootstrapServers: string;
  /**
   * True for librdkafka's mock cluster, which differs from a real broker where tests look: it has no
   * CreateTopics and does not store transactional offset commits.
   */
  mock: boolean;
  /** Stops what the helper started and resolves with the child broker's exit code; 0 for a cluster it did not start. Idempotent. */
  stop(): Promise<number | null>;
}

/** Which cluster the Kafka tests use: a function of the environment alone. */
export type TestBrokerChoice =
  | { kind: 'external'; bootstrapServers: string }
  | { kind: 'testcontainers' }
  | { kind: 'mock' };

/** Resolves when a Docker engine answers; rejects with the reason when none does. */
export type ContainerRuntimeProbe = () => Promise<void>;

export interface StartTestBrokerOptions {
  env?: NodeJS.ProcessEnv;
  /** Replaces the testcontainers probe, so the no-Docker failure can be checked where Docker runs. */
  probeContainerRuntime?: ContainerRuntimeProbe;
}

/** The helper refused to fall back to the mock cluster because the real Kafka asked for cannot run. */
export class TestBrokerUnavailableError extends Error {
  override name = 'TestBrokerUnavailableError';
}

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/**
 * The test suite's own opt-in, read here alone: tracestream never reads it, so it is not in the
 * settings table (whose entries are the CLI's flags and `tracestream --help`'s list).
 */
const OPT_IN = 'TRACESTREAM_TEST_KAFKA';
const optInSchema = z.enum(['testcontainers']).optional();
// cp-kafka 8.0 is Kafka 4.0: KRaft only, and the KIP-848 consumer group protocol the source tests use.
const KAFKA_IMAGE = 'confluentinc/cp-kafka:8.0.0';
// The port the Kafka module's plaintext listener exposes to the host.
const KAFKA_HOST_PORT = 9093;

export function chooseTestBroker(env: NodeJS.ProcessEnv): TestBrokerChoice {
  const settings = readSettings({}, env);
  const optIn = optInSchema.safeParse(env[OPT_IN] === '' ? undefined : env[OPT_IN]);
  if (!optIn.success) {
    throw new TracestreamError(
      'CONFIG_INVALID',
      `${OPT_IN}: ${JSON.stringify(env[OPT_IN])} is not valid (${optIn.error.issues[0]?.message ?? 'invalid'}); ` +
        'testcontainers runs the Kafka tests against a real broker in Docker; unset: the mock cluster; KAFKA_BROKERS wins over it',
      { details: { setting: OPT_IN } },
    );
  }
  if (settings.kafkaBrokers !== undefined) return { kind: 'external', bootstrapServers: settings.kafkaBrokers };
  if (optIn.data === 'testcontainers') return { kind: 'testcontainers' };
  return { kind: 'mock' };
}

export async function startTestBroker(options: StartTestBrokerOptions = {}): Promise<TestBroker> {
  const env = options.env ?? process.env;
  const choice = chooseTestBroker(env);
  switch (choice.kind) {
    case 'external':
      return { bootstrapServers: choice.bootstrapServers, mock: false, stop: () => Promise.resolve(0) };
    case 'testcontainers':
      return startKafkaContainer(options.probeContainerRuntime ?? probeDocker);
    case 'mock':
      return startMockBroker(env);
  }
}

async function probeDocker(): Promise<void> {
  const { getContainerRuntimeClient } = await import('testcontainers');
  await getContainerRuntimeClient();
}

async function startKafkaContainer(probe: ContainerRuntimeProbe): Promise<TestBroker> {
  try {
    await probe();
  } catch (cause) {
    // Falling back to the mock would pass tests the user asked to run against a real broker.
    throw new TestBrokerUnavailableError(
      `${OPT_IN}=testcontainers asks for a real Kafka broker in Docker, but no Docker engine is reachable ` +
        `(${cause instanceof Error ? cause.message : String(cause)}). Start Docker or point DOCKER_HOST at one, ` +
        `set KAFKA_BROKERS to a running cluster, or unset ${OPT_IN} to use librdkafka's mock cluster.`,
      { cause },
    );
  }
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const container = await new KafkaContainer(KAFKA_IMAGE)
    .withKraft()
    .withEnvironment({
      // The mock's default, which the tests that produce to auto-created topics rely on.
      KAFKA_NUM_PARTITIONS: '4',
      // One broker: the transactions' state log cannot have the default three replicas.
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
    })
    .start();
  let stopped: Promise<number | null> | undefined;
  return {
    bootstrapServers: `${container.getHost()}:${container.getMappedPort(KAFKA_HOST_PORT)}`,
    mock: false,
    stop() {
      stopped ??= container.stop().then(() => 0);
      return stopped;
    },
  };
}

async function startMockBroker(env: NodeJS.ProcessEnv): Promise<TestBroker> {
  const child = spawn(process.execPath, [MAIN, 'broker'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...env, KAFKA_BROKERS: '' } });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`tracestream broker exited with ${code} before printing its address`)));
  });
  const match = /^bootstrap\.servers=(.+)$/.exec(first);
  if (match === null) {
    child.kill('SIGKILL');
    throw new Error(`unexpected first line from tracestream broker: ${first}`);
  }
  return {
    bootstrapServers: match[1]!,
    mock: true,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

let counter = 0;
/** A topic or group name no other test (or earlier run against the same cluster) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}
