import { Command } from 'commander';
import { startTraceTopology } from '../../../topologies/trace.js';
import type { SolutionSubmitted } from '../../avro/index.js';
import { endOffsetsNow, replayTopic } from '../../dataset/index.js';
import { TracestreamError } from '../../errors/index.js';
import { EMBEDDED_PARTITION_RETENTION_BYTES } from '../../kafka/index.js';
import { awaitRuns, DEFAULT_TRACE_TOPICS, produceSolutions, readSolutions, runIdOf } from '../../pipeline/index.js';
import { exitWith } from '../command.js';
import {
  CLUSTER_SETTINGS, LIMIT_SETTINGS, SANDBOX_SETTINGS, TOPOLOGY_SETTINGS, connect, settingsOf, traceTopologyOptionsFrom, withSettings,
} from '../options.js';
import { Progress } from '../progress.js';
import { replayProgressBars, replaySummary } from './replay.js';

export function traceCommand(): Command {
  const command = new Command('trace')
    .summary('The main job: trace solutions end to end through Kafka and write the dataset')
    .description([
      'Without --brokers / KAFKA_BROKERS it starts the embedded broker. It ingests the solutions as',
      'SolutionSubmitted events, runs the trace topology, reads every trace back from the `traces` topic',
      'and writes the dataset of this job\'s traces to DIR with the writer of `tracestream replay`: Parquet',
      'shards per split in DIR/data, DIR/README.md (dataset card) and DIR/manifest.json. Timings are left',
      'out, so the same programs give the same bytes.',
    ].join(' '))
    .argument('<input>', 'a folder of .py files (stdin from NAME.in beside each), a .jsonl file, one .py file, or - for JSON lines on stdin')
    .requiredOption('--out <dir>', 'folder the dataset is written to')
    .option('--exactly-once', 'use Kafka transactions instead of at-least-once delivery (see README, Delivery)', false)
    .option('--format <formats>', 'also write these beside the Parquet shards: jsonl, compact (comma-separated)');
  withSettings(command, [...CLUSTER_SETTINGS, ...TOPOLOGY_SETTINGS, 'concurrency', ...SANDBOX_SETTINGS, ...LIMIT_SETTINGS]);
  return command.action(exitWith(async (input: string, options: { out: string; exactlyOnce: boolean; format?: string }) => {
    const settings = settingsOf(command);
    const solutions: SolutionSubmitted[] = [];
    for await (const solution of readSolutions(input)) solutions.push(solution);
    const runIds = new Set(solutions.flatMap((s) => s.inputs.map((_, index) => runIdOf(s.solutionId, index))));

    const connection = await connect(settings);
    try {
      const topology = await startTraceTopology(traceTopologyOptionsFrom(settings, connection, {
        exactlyOnce: options.exactlyOnce,
        transactionalId: `tracestream-trace-main-${process.pid}`,
      }));
      try {
        // This job's traces are those after the topic's end offsets of now (a cluster may hold older ones).
        const before = await endOffsetsNow(connection.client, DEFAULT_TRACE_TOPICS.traces);
        await produceSolutions(connection.client, connection.codec, DEFAULT_TRACE_TOPICS.solutions, solutions);
        const progress = new Progress('tracing', runIds.size, process.stderr, ' runs');
        await Promise.race([
          awaitRuns({ client: connection.client, topic: DEFAULT_TRACE_TOPICS.traces, runIds, onRun: () => progress.advance() }),
          topology.done.then(() => {
            throw new TracestreamError('TOPOLOGY_STOPPED', 'the trace topology stopped before every trace arrived');
          }),
        ]);
        progress.finish();
        const bars = replayProgressBars();
        const { manifest } = await replayTopic({
          client: connection.client,
          codec: connection.codec,
          topics: [DEFAULT_TRACE_TOPICS.traces],
          outDir: options.out,
          start: before === undefined ? { from: 'beginning' } : { from: 'offsets', offsets: { [DEFAULT_TRACE_TOPICS.traces]: before } },
          filter: {},
          formats: (options.format ?? '').split(',').map((f) => f.trim()).filter((f) => f !== '') as ('jsonl' | 'compact')[],
          onProgress: bars.update,
        });
        bars.finish();
        process.stdout.write(replaySummary(options.out, manifest));
        process.stdout.write(`wrote ${manifest.records.written} traces to ${options.out}\n`);
        const lost = runIds.size - manifest.records.written;
        if (lost > 0) {
          throw new TracestreamError('RECORDS_LOST', `${lost} of ${runIds.size} traces were no longer on the topic when the dataset was written: `
            + (connection.brokers.embedded
              ? `the embedded broker keeps about ${EMBEDDED_PARTITION_RETENTION_BYTES / 2 ** 20} MiB of compressed batches per partition and drops the oldest; `
                + 'trace fewer programs per call, or use a real cluster (KAFKA_BROKERS)'
              : 'the topic\'s retention removed them before they were read; raise retention.ms / retention.bytes'));
        }
      } finally {
        await topology.close();
      }
    } finally {
      await connection.close();
    }
    return 0;
  }));
}
