import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { startTraceTopology } from '../../../topologies/trace.js';
import type { ExecutionTrace, SolutionSubmitted } from '../../avro/index.js';
import { TracestreamError } from '../../errors/index.js';
import { renderCompact } from '../../render/index.js';
import { collectTraces, DEFAULT_TRACE_TOPICS, executionOf, produceSolutions, readSolutions, runIdOf } from '../../pipeline/index.js';
import { exitWith } from '../command.js';
import {
  CLUSTER_SETTINGS, LIMIT_SETTINGS, SANDBOX_SETTINGS, TOPOLOGY_SETTINGS, connect, settingsOf, traceTopologyOptionsFrom, withSettings,
} from '../options.js';
import { Progress } from '../progress.js';

export function traceCommand(): Command {
  const command = new Command('trace')
    .summary('The main job: trace solutions end to end through Kafka and write the dataset')
    .description([
      'Without --brokers / KAFKA_BROKERS it starts the embedded broker. It ingests the solutions as',
      'SolutionSubmitted events, runs the trace topology, reads every trace back from the `traces` topic',
      'and writes DIR/traces.jsonl (one ExecutionTrace per line, sorted by run id, without timings: the',
      'same input gives the same bytes), DIR/compact.txt (the compact rendering of each trace),',
      'DIR/timings.jsonl (wall and CPU time per run) and DIR/summary.json (outcome counts).',
    ].join(' '))
    .argument('<input>', 'a folder of .py files (stdin from NAME.in beside each), a .jsonl file, one .py file, or - for JSON lines on stdin')
    .requiredOption('--out <dir>', 'folder the dataset is written to')
    .option('--exactly-once', 'use Kafka transactions instead of at-least-once delivery (see README, Delivery)', false);
  withSettings(command, [...CLUSTER_SETTINGS, ...TOPOLOGY_SETTINGS, 'concurrency', ...SANDBOX_SETTINGS, ...LIMIT_SETTINGS]);
  return command.action(exitWith(async (input: string, options: { out: string; exactlyOnce: boolean }) => {
    const settings = settingsOf(command);
    const solutions: SolutionSubmitted[] = [];
    for await (const solution of readSolutions(input)) solutions.push(solution);
    const sources = new Map(solutions.map((s) => [s.solutionId, s.source]));
    const runIds = new Set(solutions.flatMap((s) => s.inputs.map((_, index) => runIdOf(s.solutionId, index))));

    const connection = await connect(settings);
    try {
      const topology = await startTraceTopology(traceTopologyOptionsFrom(settings, connection, {
        exactlyOnce: options.exactlyOnce,
        transactionalId: `tracestream-trace-main-${process.pid}`,
      }));
      try {
        await produceSolutions(connection.client, connection.codec, DEFAULT_TRACE_TOPICS.solutions, solutions);
        const progress = new Progress('tracing', runIds.size);
        const traces = await Promise.race([
          collectTraces({
            client: connection.client,
            codec: connection.codec,
            topic: DEFAULT_TRACE_TOPICS.traces,
            runIds,
            onTrace: () => progress.advance(),
          }),
          topology.done.then(() => {
            throw new TracestreamError('TOPOLOGY_STOPPED', 'the trace topology stopped before every trace arrived');
          }),
        ]);
        progress.finish();
        await writeDataset(options.out, [...traces.values()], sources);
        process.stdout.write(`wrote ${traces.size} traces to ${options.out}\n`);
      } finally {
        await topology.close();
      }
    } finally {
      await connection.close();
    }
    return 0;
  }));
}

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
