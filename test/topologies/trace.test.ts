import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Kafka from '@confluentinc/kafka-javascript';
import { createAvroCodec, openSchemaRegistry, type AvroCodec, type EventType, type EventTypes, type SchemaRegistry } from '../../src/avro/index.js';
import { createProducer, kafkaSource, TRACESTREAM_CLIENT_PROPERTIES, type KafkaClientConfig } from '../../src/kafka/index.js';
import { DEFAULT_TRACE_TOPICS, collectTraces, readEvents, runIdOf, traceTopicSpecs } from '../../src/pipeline/index.js';
import { startTestBroker, uniqueName, type TestBroker } from '../helpers/broker.js';
import { startCli, type CliProcess as Cli } from '../helpers/cli-process.js';

const SOLUTION = {
  schemaVersion: 1, problemId: 'mix', language: 'python3', source: 'print(1)\n',
  inputs: [{ stdin: '', expectedStdout: null }], origin: {}, submittedAtMs: 0,
};

const TOPICS = DEFAULT_TRACE_TOPICS;

/** Reads `topic` from the beginning, decoding every record as `type`, until `done` holds for what was read. */
async function readAll<T extends EventType>(
  client: KafkaClientConfig,
  codec: AvroCodec,
  topic: string,
  type: T,
  done: (events: readonly EventTypes[T][]) => boolean,
): Promise<EventTypes[T][]> {
  const events: EventTypes[T][] = [];
  await readEvents({
    client, codec, topic, eventType: type,
    onEvent: (event) => {
      events.push(event);
      return done(events);
    },
  });
  return events;
}

describe('trace topology, each part its own process', () => {
  let broker: TestBroker;
  let client: KafkaClientConfig;
  let registry: SchemaRegistry;
  let codec: AvroCodec;
  let dir: string;
  const running = new Set<Cli>();

  const start = (args: readonly string[]): Cli => {
    const proc = startCli([...args, '--brokers', broker.bootstrapServers]);
    running.add(proc);
    void proc.exited.then(() => running.delete(proc));
    return proc;
  };

  /** Writes `programs` (file name → source, and optional stdin) into a fresh directory and produces them with the CLI. */
  const produce = async (programs: Record<string, { source: string; stdin?: string }>): Promise<string> => {
    const programDir = await mkdtemp(join(dir, 'programs-'));
    for (const [name, program] of Object.entries(programs)) {
      await writeFile(join(programDir, name), program.source);
      if (program.stdin !== undefined) await writeFile(join(programDir, name.replace(/\.py$/, '.in')), program.stdin);
    }
    const producer = start(['produce', programDir]);
    assert.equal(await producer.exited, 0, producer.output());
    assert.match(producer.output(), new RegExp(`produced ${Object.keys(programs).length} solutions to ${TOPICS.solutions}`));
    return programDir;
  };

  const stopTopology = async (topology: Cli): Promise<void> => {
    topology.child.kill('SIGTERM');
    assert.equal(await topology.exited, 0, `topology exits 0 on SIGTERM; output:\n${topology.output()}`);
  };

  before(async () => {
    broker = await startTestBroker();
    // The CLI's client properties: among them a metadata refresh that sees topics other processes create.
    client = { bootstrapServers: broker.bootstrapServers, clientId: 'tracestream-test', librdkafka: TRACESTREAM_CLIENT_PROPERTIES };
    registry = await openSchemaRegistry({ brokers: broker.bootstrapServers });
    codec = createAvroCodec(registry);
    dir = await mkdtemp(join(tmpdir(), 'tracestream-topology-test-'));
  });

  after(async () => {
    for (const proc of running) proc.child.kill('SIGKILL');
    await Promise.all([...running].map((p) => p.exited));
    await registry.close();
    await rm(dir, { recursive: true, force: true });
    assert.equal(await broker.stop(), 0, 'tracestream broker exits 0 on SIGTERM');
  });

  it('writes one trace per solution input with its outcome and stdout, and one diff per step in order', { timeout: 180_000 }, async () => {
    const programs = {
      'e2e_ok.py': { source: 'a = 2\nb = a * 3\nprint(b)\n' },
      'e2e_error.py': { source: 'x = 1\nraise ValueError("boom")\n' },
      'e2e_syntax.py': { source: 'def f(:\n    return 1\n' },
      'e2e_forever.py': { source: 'import time\nwhile True:\n    time.sleep(0.05)\n' },
      'e2e_stdin.py': { source: 'name = input()\nprint("hello", name)\n', stdin: 'world\n' },
      'e2e_loop.py': { source: 'total = 0\nfor i in range(3):\n    total += i\n    print(i)\n' },
    };
    await produce(programs);
    const topology = start(['topology', 'trace', '--group-id', uniqueName('e2e'), '--wall-time-ms', '1000']);
    try {
      const runIds = new Set(Object.keys(programs).map((file) => runIdOf(file, 0)));
      const traces = await collectTraces({ client, codec, topic: TOPICS.traces, runIds });
      assert.deepEqual([...traces.keys()].sort(), [...runIds].sort());

      const expected: Record<string, { outcome: string; stdout: string }> = {
        'e2e_ok.py': { outcome: 'ok', stdout: '6\n' },
        'e2e_error.py': { outcome: 'error', stdout: '' },
        'e2e_syntax.py': { outcome: 'syntax_error', stdout: '' },
        'e2e_forever.py': { outcome: 'timeout', stdout: '' },
        'e2e_stdin.py': { outcome: 'ok', stdout: 'hello world\n' },
        'e2e_loop.py': { outcome: 'ok', stdout: '0\n1\n2\n' },
      };
      for (const [file, want] of Object.entries(expected)) {
        const trace = traces.get(`${file}#0`)!;
        assert.equal(trace.runId, `${file}#0`);
        assert.equal(trace.solutionId, file);
        assert.equal(trace.problemId, file.replace(/\.py$/, ''));
        assert.equal(trace.inputIndex, 0);
        assert.equal(trace.outcome, want.outcome, `${file}: ${trace.reason}`);
        assert.equal(trace.stdout, want.stdout, file);
        assert.equal(trace.schemaVersion, 1);
        assert.notEqual(trace.tracerVersion, '', `${file}: tracerVersion set`);
        assert.equal(trace.limits.wallTimeMs, 1000, `${file}: the topology's --wall-time-ms applies`);
      }
      assert.equal(traces.get('e2e_error.py#0')!.exception?.type, 'ValueError');

      const loop = traces.get('e2e_loop.py#0')!;
      assert.equal(loop.traceTruncated, false);
      assert.ok(loop.stepCount > 3, `the loop run records its steps (got ${loop.stepCount})`);
      const diffs = await readAll(client, codec, TOPICS.diffs, 'LineDiff', (events) => events.filter((d) => d.runId === loop.runId).length >= loop.stepCount);
      const loopDiffs = diffs.filter((d) => d.runId === loop.runId);
      const lines = programs['e2e_loop.py'].source.split('\n');
      assert.equal(loopDiffs.length, loop.stepCount);
      assert.deepEqual(loopDiffs.map((d) => d.stepIndex), Array.from({ length: loop.stepCount }, (_, i) => i));
      for (const [i, diff] of loopDiffs.entries()) {
        const step = loop.steps[i]!;
        assert.equal(diff.solutionId, 'e2e_loop.py');
        assert.equal(diff.problemId, loop.problemId, 'a diff names its run\'s problem (tail/serve filter diffs by it)');
        assert.equal(diff.outcome, 'ok', 'and how its run ended');
        assert.equal(diff.stepCount, loop.stepCount);
        assert.equal(diff.line, step.line);
        assert.equal(diff.event, step.event);
        assert.equal(diff.sourceLine, lines[step.line - 1], `step ${i} names line ${step.line}`);
        // Spread: decoded records are instances of avsc's generated classes, not plain objects.
        assert.deepEqual(diff.changes.map((c) => ({ ...c })), step.changes.map((c) => ({ ...c })));
      }
    } finally {
      await stopTopology(topology);
    }
  });

  it('a topology process SIGKILLed mid-stream loses no solution: a restarted one in the same group traces the rest', { timeout: 300_000 }, async () => {
    const programs = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [
      `kill_${String(i).padStart(2, '0')}.py`,
      { source: `import time\ntime.sleep(0.5)\nprint(${i})\n` },
    ]));
    await produce(programs);
    const groupId = uniqueName('kill');
    const runIds = new Set(Object.keys(programs).map((file) => runIdOf(file, 0)));
    // Two executors, so most solutions are still waiting when the third trace arrives.
    // A short session timeout: the restarted member gets the killed one's partitions in seconds.
    const first = start(['topology', 'trace', '--group-id', groupId, '--wall-time-ms', '5000', '--concurrency', '2', '--session-timeout-ms', '6000']);
    let second: Cli | undefined;
    let seen = 0;
    let killedAtMs = Infinity;
    try {
      const traces = await collectTraces({
        client, codec, topic: TOPICS.traces, runIds,
        onTrace: () => {
          seen++;
          if (seen === 3) {
            first.child.kill('SIGKILL');
            void first.exited.then(() => {
              killedAtMs = Date.now();
              second = start(['topology', 'trace', '--group-id', groupId, '--wall-time-ms', '5000', '--session-timeout-ms', '6000']);
            });
          }
        },
      });
      assert.equal(await first.exited, 'SIGKILL', 'the first topology was killed before every trace arrived');
      // A trace made after the first process died can only come from the restarted one.
      const byRestarted = [...traces.values()].filter((trace) => trace.producedAtMs > killedAtMs);
      assert.ok(byRestarted.length > 0, 'the restarted topology traced some of the solutions');
      assert.deepEqual([...traces.keys()].sort(), [...runIds].sort());
      for (const [runId, trace] of traces) {
        assert.equal(trace.outcome, 'ok', `${runId}: ${trace.reason}`);
        assert.equal(trace.stdout, `${Number(runId.slice('kill_'.length, 'kill_'.length + 2))}\n`);
      }
      assert.ok(second !== undefined, 'a second topology process was started after the kill');
    } finally {
      if (second !== undefined) await stopTopology(second);
    }
  });

  it('--max-diffs-per-run caps the diffs of a run at its first steps, each saying how many to expect (diffCount); the trace keeps every step', { timeout: 180_000 }, async () => {
    const programs = { 'capped_loop.py': { source: 'total = 0\nfor i in range(5):\n    total += i\n' } };
    await produce(programs);
    const topology = start(['topology', 'trace', '--group-id', uniqueName('capped'), '--max-diffs-per-run', '3']);
    try {
      const runId = runIdOf('capped_loop.py', 0);
      const trace = (await collectTraces({ client, codec, topic: TOPICS.traces, runIds: new Set([runId]) })).get(runId)!;
      assert.equal(trace.stepCount, 12);
      assert.equal(trace.steps.length, 12, 'the trace keeps every step');
      const diffs = (await readAll(client, codec, TOPICS.diffs, 'LineDiff', (events) => events.some((d) => d.runId === runId && d.stepIndex === 2)))
        .filter((d) => d.runId === runId);
      assert.deepEqual(diffs.map((d) => [d.stepIndex, d.diffCount, d.stepCount]), [[0, 3, 12], [1, 3, 12], [2, 3, 12]]);
    } finally {
      await stopTopology(topology);
    }
  });

  it('--exactly-once: every trace and its diffs are committed once, read with read_committed', { timeout: 180_000 }, async () => {
    const programs = {
      'eos_a.py': { source: 'x = 1\ny = x + 1\nprint(y)\n' },
      'eos_b.py': { source: 'name = input()\nprint(name.upper())\n', stdin: 'kafka\n' },
    };
    await produce(programs);
    const topology = start(['topology', 'trace', '--group-id', uniqueName('eos'), '--exactly-once']);
    try {
      const runIds = new Set(Object.keys(programs).map((file) => runIdOf(file, 0)));
      const traces = await collectTraces({ client, codec, topic: TOPICS.traces, runIds });
      assert.equal(traces.get('eos_a.py#0')!.stdout, '2\n');
      assert.equal(traces.get('eos_b.py#0')!.stdout, 'KAFKA\n');
      const a = traces.get('eos_a.py#0')!;
      const diffs = (await readAll(client, codec, TOPICS.diffs, 'LineDiff', (events) => events.filter((d) => d.runId === a.runId).length >= a.stepCount))
        .filter((d) => d.runId === a.runId);
      assert.deepEqual(diffs.map((d) => d.stepIndex), Array.from({ length: a.stepCount }, (_, i) => i), 'each diff once, in order');
    } finally {
      await stopTopology(topology);
    }
  });

  it('creates its topics as asked on a real broker (partitions per topic)', { timeout: 180_000 }, async (t) => {
    if (broker.mock) {
      t.skip("librdkafka's mock cluster has no CreateTopics: it auto-creates topics with its defaults (run with TRACESTREAM_TEST_KAFKA=testcontainers or KAFKA_BROKERS)");
      return;
    }
    await produce({ 'topics_probe.py': { source: 'x = 1\n' } });
    const topology = start(['topology', 'trace', '--group-id', uniqueName('topics')]);
    const admin = new Kafka.KafkaJS.Kafka({ kafkaJS: { brokers: broker.bootstrapServers.split(',') } }).admin();
    try {
      // The topology ensures its topics before it consumes: a trace means they were created.
      await collectTraces({ client, codec, topic: TOPICS.traces, runIds: new Set([runIdOf('topics_probe.py', 0)]) });
      await admin.connect();
      // The output topics: `solutions` may have been auto-created by the producer before any topology ran.
      const outputs = traceTopicSpecs(TOPICS).filter((spec) => spec.name !== TOPICS.solutions);
      const metadata = await admin.fetchTopicMetadata({ topics: outputs.map((spec) => spec.name) });
      const partitions = Object.fromEntries(metadata.map((topic) => [topic.name, topic.partitions.length]));
      assert.deepEqual(partitions, Object.fromEntries(outputs.map((spec) => [spec.name, spec.partitions])));
    } finally {
      await admin.disconnect().catch(() => undefined);
      await stopTopology(topology);
    }
  });

  it('dead-letters an undecodable solution with its origin and bytes and goes on with the next one', { timeout: 180_000 }, async () => {
    const garbage = Buffer.from('definitely not avro wire format');
    const producer = await createProducer({ client });
    try {
      await producer.send([{ topic: TOPICS.solutions, key: 'dlq_garbage', value: garbage }]);
    } finally {
      await producer.close();
    }
    await produce({ 'dlq_valid.py': { source: 'print("still here")\n' } });
    const [raw] = await new Promise<{ partition: number; offset: string }[]>((resolve, reject) => {
      const source = kafkaSource({ client, groupId: uniqueName('test-raw'), topics: [TOPICS.solutions] });
      const subscription = source.records.subscribe({
        next: (record) => {
          record.ack();
          if (record.value?.equals(garbage) === true) {
            subscription.unsubscribe();
            resolve([{ partition: record.partition, offset: record.offset }]);
          }
        },
        error: reject,
      });
    });

    const topology = start(['topology', 'trace', '--group-id', uniqueName('dlq'), '--wall-time-ms', '5000']);
    try {
      const letters = await readAll(client, codec, TOPICS.deadLetters, 'DeadLetter', (events) => events.some((l) => l.value?.equals(garbage) === true));
      const letter = letters.find((l) => l.value?.equals(garbage) === true)!;
      assert.match(letter.reason, /undecodable SolutionSubmitted/);
      assert.equal(letter.sourceTopic, TOPICS.solutions);
      assert.equal(letter.sourcePartition, raw!.partition);
      assert.equal(letter.sourceOffset, raw!.offset);
      assert.equal(letter.key?.toString(), 'dlq_garbage');
      assert.deepEqual(letter.value, garbage);

      const traces = await collectTraces({ client, codec, topic: TOPICS.traces, runIds: new Set(['dlq_valid.py#0']) });
      const trace = traces.get('dlq_valid.py#0')!;
      assert.equal(trace.outcome, 'ok', trace.reason);
      assert.equal(trace.stdout, 'still here\n');
    } finally {
      await stopTopology(topology);
    }
  });

  it('a stream mixing valid solutions, hostile programs and malformed records traces every valid one, dead-letters the rest with reasons, and keeps running', { timeout: 300_000 }, async () => {
    const maxMessageBytes = 256 * 1024;
    const longName = `f${'n'.repeat(10_000)}`;
    await produce({
      'mix_valid_0.py': { source: 'print(0)\n' },
      'mix_valid_1.py': { source: 'x = input()\nprint(x * 2)\n', stdin: 'ab\n' },
      // A fake end record and a step that printed, then a raw exit: nothing of it may be believed.
      'mix_forged.py': { source: [
        'import os, sys',
        `os.write(3, ${JSON.stringify('[0,"line",1,0,"<module>",[],null,null,"INVENTED"]\n{"end":{"status":"ok","exception":null,"exit_code":0,"step_count":1,"tracer_error":null}}\n')}.encode())`,
        'child = sys.modules.get("child")',
        'if child is not None:',
        '    child._Run.ended = True',
        'os._exit(0)',
        '',
      ].join('\n') },
      'mix_badline.py': { source: 'import os\nos.write(3, b\'[0,"line",1.5,0,"<module>",[],null,null,""]\\n\')\n' },
      // Issue 9's 60 MB trace: a long function name and long source lines repeated in every step.
      'mix_oversized.py': { source: `def ${longName}():\n    for i in range(5000):\n        x = i + ${'0 + '.repeat(500)}0\n${longName}()\n` },
      // Its source alone is past the message size: a trace with the source cut, not a dead letter.
      'mix_huge_source.py': { source: `print(1)\n${'# a long comment\n'.repeat(20_000)}` },
    });
    const noInputs = await codec.encode('SolutionSubmitted', { ...SOLUTION, solutionId: 'mix_no_inputs', inputs: [] });
    // Its trace cannot fit even without steps, and its dead letter carries 300 KB of it: cut to fit.
    const hugeId = await codec.encode('SolutionSubmitted', { ...SOLUTION, solutionId: 'i'.repeat(300_000) });
    const producer = await createProducer({ client });
    try {
      await producer.send([
        { topic: TOPICS.solutions, key: 'mix_garbage', value: Buffer.from('not avro at all') },
        { topic: TOPICS.solutions, key: 'mix_tombstone', value: null },
        { topic: TOPICS.solutions, key: 'mix_unknown_schema', value: Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 1, 2, 3]) },
        { topic: TOPICS.solutions, key: 'mix_no_inputs', value: noInputs },
        { topic: TOPICS.solutions, key: 'mix_huge_id', value: hugeId },
      ]);
    } finally {
      await producer.close();
    }

    const topology = start(['topology', 'trace', '--group-id', uniqueName('mix'), '--wall-time-ms', '5000', '--max-message-bytes', String(maxMessageBytes)]);
    try {
      const expectedLetters: Record<string, RegExp> = {
        mix_garbage: /undecodable SolutionSubmitted/, mix_tombstone: /tombstone/, mix_unknown_schema: /unknown schema id/,
        mix_no_inputs: /no inputs/, mix_huge_id: /EVENT_TOO_LARGE|cannot fit/,
      };
      const letters = await readAll(client, codec, TOPICS.deadLetters, 'DeadLetter',
        (events) => Object.keys(expectedLetters).every((key) => events.some((l) => l.key?.toString() === key)));
      for (const [key, reason] of Object.entries(expectedLetters)) {
        const letter = letters.find((l) => l.key?.toString() === key)!;
        assert.match(letter.reason, reason, key);
        assert.equal(letter.sourceTopic, TOPICS.solutions);
      }
      const huge = letters.find((l) => l.key?.toString() === 'mix_huge_id')!;
      assert.equal(huge.errorCode, 'EVENT_TOO_LARGE');
      assert.ok(huge.cut.includes('value'), `the dead letter of a 300 KB record is cut to ${maxMessageBytes} bytes: ${huge.cut.join(', ')}`);

      const runIds = ['mix_valid_0.py', 'mix_valid_1.py', 'mix_forged.py', 'mix_badline.py', 'mix_oversized.py', 'mix_huge_source.py'].map((id) => runIdOf(id, 0));
      const traces = await collectTraces({ client, codec, topic: TOPICS.traces, runIds: new Set(runIds) });
      assert.equal(traces.get('mix_valid_0.py#0')!.stdout, '0\n');
      assert.equal(traces.get('mix_valid_1.py#0')!.stdout, 'abab\n');
      for (const id of ['mix_valid_0.py#0', 'mix_valid_1.py#0']) assert.equal(traces.get(id)!.outcome, 'ok', traces.get(id)!.reason);
      const forged = traces.get('mix_forged.py#0')!;
      assert.equal(forged.outcome, 'killed');
      assert.match(forged.reason, /^trace channel corrupt: /);
      assert.deepEqual(forged.steps, []);
      assert.equal(forged.stdout, '');
      const badLine = traces.get('mix_badline.py#0')!;
      assert.equal(badLine.outcome, 'killed');
      assert.match(badLine.reason, /line number is not a non-negative integer/);
      const oversized = traces.get('mix_oversized.py#0')!;
      assert.equal(oversized.outcome, 'ok', oversized.reason);
      assert.deepEqual([...oversized.cut].sort(), ['names', 'steps']);
      assert.equal(oversized.traceTruncated, true);
      assert.ok(oversized.steps.every((step) => step.function.length < 400));
      const hugeSource = traces.get('mix_huge_source.py#0')!;
      assert.equal(hugeSource.outcome, 'ok', hugeSource.reason);
      assert.equal(hugeSource.stdout, '1\n');
      assert.deepEqual([...hugeSource.cut], ['source']);
      assert.match(hugeSource.source!, /^print\(1\)\n# a long comment\n[^]*…\(340009 chars\)$/);

      // Still running: a solution sent after all of that is traced.
      assert.equal(topology.child.exitCode, null, topology.output());
      await produce({ 'mix_after.py': { source: 'print("after")\n' } });
      const after = await collectTraces({ client, codec, topic: TOPICS.traces, runIds: new Set(['mix_after.py#0']) });
      assert.equal(after.get('mix_after.py#0')!.stdout, 'after\n');
    } finally {
      await stopTopology(topology);
    }
  });
});
