import { Command } from 'commander';
import { TracestreamError } from '../../errors/index.js';
import { DEFAULT_TRACE_TOPICS, produceSolutions, readSolutions } from '../../pipeline/index.js';
import { exitWith } from '../command.js';
import { CLUSTER_SETTINGS, connect, settingsOf, withSettings } from '../options.js';

export function produceCommand(): Command {
  const command = new Command('produce')
    .summary('Send solutions (a dir of .py, a .jsonl file, or - for stdin) to the solutions topic')
    .description([
      'Each solution becomes one SolutionSubmitted event keyed by its id. Needs a cluster:',
      '--brokers / KAFKA_BROKERS (start one with `tracestream broker`).',
    ].join(' '))
    .argument('<input>', 'a folder of .py files (stdin from NAME.in beside each), a .jsonl file, one .py file, or - for JSON lines on stdin')
    .option('--topic <topic>', 'topic to write to', DEFAULT_TRACE_TOPICS.solutions);
  withSettings(command, CLUSTER_SETTINGS);
  return command.action(exitWith(async (input: string, options: { topic: string }) => {
    const settings = settingsOf(command);
    if (settings.kafkaBrokers === undefined) {
      throw new TracestreamError('CONFIG_INVALID', 'produce needs a cluster: set --brokers or KAFKA_BROKERS (an embedded broker would vanish when produce exits; start one with `tracestream broker`)');
    }
    const connection = await connect(settings);
    try {
      const count = await produceSolutions(connection.client, connection.codec, options.topic, readSolutions(input));
      process.stdout.write(`produced ${count} solutions to ${options.topic}\n`);
    } finally {
      await connection.close();
    }
    return 0;
  }));
}
