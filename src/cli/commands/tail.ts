import { Argument, Command } from 'commander';
import { installShutdown } from '../../lifecycle/index.js';
import { parseOptions } from '../../errors/index.js';
import { liveFilterSchema, parseLiveFrom, startTail, wantsColour, type LiveStream } from '../../live/index.js';
import { exitWith } from '../command.js';
import { CLUSTER_SETTINGS, connect, settingsOf, withSettings } from '../options.js';

interface TailFlags {
  problem?: string;
  solution?: string;
  outcome?: string;
  from: string;
  json: boolean;
  topic?: string;
}

export function tailCommand(): Command {
  const command = new Command('tail')
    .summary('Print trace events as they arrive (snoop-style, or --json lines)')
    .description([
      'Reads every partition of the topic without joining any consumer group, so it never takes work from a topology.',
      'Colour only on a terminal and without NO_COLOR. Runs until SIGINT/SIGTERM.',
    ].join(' '))
    .addArgument(new Argument('<stream>', 'which events').choices(['traces', 'diffs']))
    .option('--problem <id>', 'only runs of this problem')
    .option('--solution <id>', 'only runs of this solution')
    .option('--outcome <outcome>', 'only runs that ended so: ok, error, timeout, step-limit, ...')
    .option('--from <start>', 'now, beginning, an ISO 8601 time or epoch milliseconds', 'now')
    .option('--json', 'one JSON event a line, for scripts', false)
    .option('--topic <name>', 'the topic to read (default: the stream\'s own)');
  withSettings(command, [...CLUSTER_SETTINGS, 'shutdownDeadlineMs']);
  return command.action(exitWith(async (stream: LiveStream, flags: TailFlags) => {
    const filter = parseOptions(liveFilterSchema, {
      ...(flags.problem === undefined ? {} : { problem: flags.problem }),
      ...(flags.solution === undefined ? {} : { solution: flags.solution }),
      ...(flags.outcome === undefined ? {} : { outcome: flags.outcome }),
    }, 'tail');
    const from = parseLiveFrom(flags.from);
    const settings = settingsOf(command);
    const shutdown = installShutdown({ deadlineMs: settings.shutdownDeadlineMs });
    const connection = await connect(settings);
    shutdown.register('registry and brokers', () => connection.close());
    const tail = startTail(stream, filter, {
      client: connection.client,
      codec: connection.codec,
      ...(flags.topic === undefined ? {} : { topic: flags.topic }),
      from,
      json: flags.json,
      colour: wantsColour(process.stdout),
      write: (text) => process.stdout.write(text),
      onReady: (partitions) => process.stderr.write(`tracestream: tailing ${stream} from ${flags.from} (${partitions} partitions)\n`),
    });
    shutdown.register('tail', () => tail.stop());
    await tail.done;
    return 0;
  }));
}
