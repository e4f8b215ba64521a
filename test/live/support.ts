import { request } from 'node:http';
import { connect as connectSocket, type Socket } from 'node:net';
import { createAvroCodec, openSchemaRegistry, type AvroCodec, type AvroOutcome, type ExecutionTrace, type LineDiff, type SchemaRegistry } from '../../src/avro/index.js';
import { createProducer, type KafkaClientConfig, type KafkaProducer } from '../../src/kafka/index.js';
import { DEFAULT_LIMITS } from '../../src/runs/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

export interface LiveFixture {
  broker: TestBroker;
  client: KafkaClientConfig;
  registry: SchemaRegistry;
  codec: AvroCodec;
  producer: KafkaProducer;
  close(): Promise<number | null>;
}

/** A broker, the built-in schema registry on it, a codec and a producer. */
export async function startLiveFixture(): Promise<LiveFixture> {
  const broker = await startTestBroker();
  // Consumers must see topics the producer auto-creates within seconds, as the CLI's clients do.
  const client: KafkaClientConfig = { bootstrapServers: broker.bootstrapServers, clientId: 'tracestream-test', librdkafka: { 'topic.metadata.refresh.interval.ms': 1000 } };
  const registry = await openSchemaRegistry({ brokers: broker.bootstrapServers });
  const codec = createAvroCodec(registry);
  const producer = await createProducer({ client });
  return {
    broker, client, registry, codec, producer,
    async close() {
      await producer.close();
      await registry.close();
      return broker.stop();
    },
  };
}

export interface TraceSpec {
  runId: string;
  problemId?: string;
  outcome?: AvroOutcome;
  /** Bytes of stdout, to make events as large as a test needs. */
  stdoutBytes?: number;
  stdout?: string;
}

/** A small but complete ExecutionTrace (two steps). */
export function traceEvent(spec: TraceSpec): ExecutionTrace {
  const solutionId = spec.runId.split('#')[0]!;
  const stdout = spec.stdout ?? 'x'.repeat(spec.stdoutBytes ?? 0);
  return {
    schemaVersion: 1, runId: spec.runId, solutionId, problemId: spec.problemId ?? 'p', inputIndex: 0,
    contentHash: '0'.repeat(64), tracerVersion: 'test', pythonVersion: '3.11.2', outcome: spec.outcome ?? 'ok',
    exitCode: 0, signal: null, reason: 'ran to completion', stdout, stderrTail: '', outputFile: null, exception: null,
    wallTimeMs: 5, cpuTimeMs: 4, limits: DEFAULT_LIMITS, stepCount: 2, traceTruncated: false,
    steps: [
      { index: 0, event: 'line', line: 1, depth: 0, function: '<module>', changes: [{ name: 'x', kind: 'new', value: '1' }], value: null, exception: null, stdout: '' },
      { index: 1, event: 'line', line: 2, depth: 0, function: '<module>', changes: [], value: null, exception: null, stdout },
    ],
    producedAtMs: Date.now(),
    cut: [],
    source: 'x = 1\nprint(x)\n', stdin: '', origin: {},
  };
}

export function diffEvent(runId: string, stepIndex: number, run: { problemId?: string; outcome?: AvroOutcome } = {}): LineDiff {
  return {
    schemaVersion: 1, runId, solutionId: runId.split('#')[0]!, stepIndex, stepCount: 3, event: 'line', line: stepIndex + 1, depth: 0,
    function: '<module>', sourceLine: `x = ${stepIndex}`, changes: [{ name: 'x', kind: 'modified', value: String(stepIndex) }],
    value: null, exception: null, stdout: '', diffCount: 3, problemId: run.problemId ?? 'p', outcome: run.outcome ?? 'ok',
  };
}

export async function produceTraces(fixture: LiveFixture, topic: string, traces: readonly ExecutionTrace[]): Promise<void> {
  const records = await Promise.all(traces.map(async (trace) => ({ topic, key: trace.runId, value: await fixture.codec.encode('ExecutionTrace', trace) })));
  await fixture.producer.send(records);
}

export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/** An EventSource-like reader of one SSE response, for tests: every event it received, in order. */
export interface SseClient {
  readonly events: SseEvent[];
  readonly status: Promise<number>;
  readonly ended: Promise<void>;
  /** Resolves once `predicate` holds for the events received (checked as each arrives). */
  until(predicate: (events: readonly SseEvent[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): void;
}

export function openSse(url: string, headers: Record<string, string> = {}): SseClient {
  const events: SseEvent[] = [];
  const waiters = new Set<() => void>();
  let buffer = '';
  let resolveStatus!: (status: number) => void;
  const status = new Promise<number>((resolve) => {
    resolveStatus = resolve;
  });
  let resolveEnded!: () => void;
  const ended = new Promise<void>((resolve) => {
    resolveEnded = resolve;
  });
  const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
    resolveStatus(res.statusCode ?? 0);
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: SseEvent = { id: undefined, event: 'message', data: '' };
        let hasData = false;
        for (const line of frame.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon === -1 ? line : line.slice(0, colon);
          const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'id') event.id = value;
          else if (field === 'event') event.event = value;
          else if (field === 'data') {
            event.data = hasData ? `${event.data}\n${value}` : value;
            hasData = true;
          }
        }
        if (hasData) events.push(event);
      }
      for (const waiter of [...waiters]) waiter();
    });
    res.on('close', () => {
      resolveEnded();
      for (const waiter of [...waiters]) waiter();
    });
  });
  req.on('error', () => resolveEnded());
  req.end();
  return {
    events, status, ended,
    until(predicate, timeoutMs = 60_000) {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (predicate(events)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms with ${events.length} events: ${events.slice(-3).map((e) => `${e.event} ${e.data.slice(0, 100)}`).join(' | ')}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => req.destroy(),
  };
}

/** A client that sends its request and then never reads a byte: the slowest client there is. */
export function openStalledClient(url: string): Socket {
  const { hostname, port, pathname, search } = new URL(url);
  const socket = connectSocket({ host: hostname, port: Number(port) }, () => {
    socket.write(`GET ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}\r\nAccept: text/event-stream\r\n\r\n`);
    socket.pause();
  });
  socket.on('error', () => undefined);
  return socket;
}

/** Trace events' run ids, in the order received (read from the start of each event's JSON: events can be large). */
export function runIdsOf(events: readonly SseEvent[]): string[] {
  return events.filter((e) => e.event === 'trace').map((e) => {
    const match = /^\{"schemaVersion":\d+,"runId":("(?:[^"\\]|\\.)*")/.exec(e.data.slice(0, 300));
    return match === null ? (JSON.parse(e.data) as ExecutionTrace).runId : (JSON.parse(match[1]!) as string);
  });
}

/** How many trace events were received. */
export function traceCount(events: readonly SseEvent[]): number {
  let count = 0;
  for (const event of events) if (event.event === 'trace') count++;
  return count;
}
