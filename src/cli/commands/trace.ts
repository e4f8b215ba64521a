import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTraceTopology } from '../../../topologies/trace.js';
import type { ExecutionTrace, SolutionSubmitted } from '../../avro/index.js';
import { readSettings } from '../../config/settings.js';
import { TracestreamError } from '../../errors/index.js';
import { renderCompact } from '../../trace/index.js';
import { collectTraces, DEFAULT_TRACE_TOPICS, executionOf, Progress, readSolutions, runIdOf } from '../../topology/index.js';
import { parseArgs } from '../args.js';
import type { Command } from '../command.js';
import { connect } from '../connect.js';
import { guaranteeFrom, poolOptionsFrom } from '../topology-options.js';
import { produceSolutions } from './produce.js';

export const traceCommand: Command = {
  name: 'trace',
  summary: 'The main job: trace solutions end to end through Kafka and write the dataset',
  usage: [
    'tracestream trace <DIR | FILE.jsonl | FILE.py | -> --out DIR [--exactly-once] [--concurrency N] [limit flags]',
    '',
    'Without --brokers / KAFKA_BROKERS it starts the embedded broker. It ingests the solutions as',
    'SolutionSubmitted events, runs the trace topology, reads every trace back from the `traces` topic',
    'and writes DIR/traces.jsonl (one ExecutionTrace per line, sorted by run id, without timings: the',
    'same input gives the same bytes), DIR/compact.txt (the compact rendering of each trace),',
    'DIR/timings.jsonl (wall and CPU time per run) and DIR/summary.json (outcome counts).',
  ].join('\n'),
  async run(argv) {
    const { positionals, flags } = parseArgs(argv, new Set(['exactly-once']));
    const [input, ...extra] = positionals;
    const out = flags['out'];
    if (input === undefined || extra.length > 0 || typeof out !== 'string') {
      throw new TracestreamError('CONFIG_INVALID', `usage: ${traceCommand.usage.split('\n')[0]}`);
    }
    const settings = readSettings(flags);
    const guarantee = guaranteeFrom(flags);
    const solutions: SolutionSubmitted[] = [];
    for await (const solution of readSolutions(input)) solutions.push(solution);
    const sources = new Map(solutions.map((s) => [s.solutionId, s.source]));
    const runIds = new Set(solutions.flatMap((s) => s.inputs.map((_, index) => runIdOf(s.solutionId, index))));

    const connection = await connect(settings);
    try {
      const topology = await startTraceTopology({
        client: connection.client,
        registry: connection.registry,
        embedded: connection.brokers.embedded,
        pool: poolOptionsFrom(settings),
        maxDiffsPerRun: settings.maxDiffsPerRun,
      eventBounds: { maxMessageBytes: settings.maxMessageBytes },
        sessionTimeoutMs: settings.sessionTimeoutMs,
        ...(settings.groupProtocol === undefined ? {} : { groupProtocol: settings.groupProtocol }),
        guarantee,
        ...(guarantee === 'exactly-once' ? { transactionalId: `tracestream-trace-main-${process.pid}` } : {}),
      });
      try {
        await produceSolutions(connection.client, connection.codec, DEFAULT_TRACE_TOPICS.solutions, solutions);
        const progress = new Progress('tracing', runIds.size);
        // A topology that stops (a fatal fault) ends the wait for traces at once, with its error.
        const stopped = new AbortController();
        const topologyStopped = topology.done.then(
          () => new TracestreamError('EXECUTOR_CLOSED', 'the trace topology stopped before every trace arrived'),
          (error: unknown) => error,
        ).then((error) => {
          stopped.abort(error);
          throw error;
        });
        topologyStopped.catch(() => undefined);
        const traces = await Promise.race([
          collectTraces({
            client: connection.client,
            codec: connection.codec,
            topic: DEFAULT_TRACE_TOPICS.traces,
            runIds,
            onTrace: () => progress.advance(),
            signal: stopped.signal,
          }),
          topologyStopped,
        ]);
        progress.finish();
        await writeDataset(out, [...traces.values()], sources);
        process.stdout.write(`wrote ${traces.size} traces to ${out}\n`);
      } finally {
        await topology.close();
      }
    } finally {
      await connection.close();
    }
    return 0;
  },
};

async function writeDataset(dir: string, traces: ExecutionTrace[], sources: ReadonlyMap<string, string>): Promise<void> {
  traces.sort((a, b) => (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
  await mkdir(dir, { recursive: true });
  // traces.jsonl holds only what the programs did, so the same input gives the same bytes; how long
  // the runs took (which varies) goes to timings.jsonl.
  const jsonl = traces.map((trace) => JSON.stringify({ ...trace, producedAtMs: undefined, wallTimeMs: undefined, cpuTimeMs: undefined }));
  const timings = traces.map((trace) => JSON.stringify({ runId: trace.runId, wallTimeMs: trace.wallTimeMs, cpuTimeMs: trace.cpuTimeMs }));
  const compact = traces.map((trace) => `### ${trace.runId}\n${renderCompact(executionOf(trace), { source: sources.get(trace.solutionId) ?? '' })}`);
  const outcomes: Record<string, number> = {};
  for (const trace of traces) outcomes[trace.outcome] = (outcomes[trace.outcome] ?? 0) + 1;
  await Promise.all([
    writeFile(join(dir, 'traces.jsonl'), jsonl.length > 0 ? `${jsonl.join('\n')}\n` : ''),
    writeFile(join(dir, 'timings.jsonl'), timings.length > 0 ? `${timings.join('\n')}\n` : ''),
    writeFile(join(dir, 'compact.txt'), compact.join('\n')),
    writeFile(join(dir, 'summary.json'), `${JSON.stringify({ runs: traces.length, outcomes }, null, 2)}\n`),
  ]);
}
