import { readSettings } from '../../config/settings.js';
import { TracestreamError } from '../../errors/index.js';
import { installShutdown } from '../../kafka/index.js';
import { liveFilterSchema, parseLiveFrom, startTail, wantsColour, type LiveStream } from '../../live/index.js';
import { parseOptions } from '../../kafka/config.js';
import { parseArgs } from '../args.js';
import type { Command } from '../command.js';
import { connect } from '../connect.js';

export const tailCommand: Command = {
  name: 'tail',
  summary: 'Print trace events as they arrive (snoop-style, or --json lines)',
  usage: [
    'tracestream tail traces|diffs [--problem P] [--solution S] [--outcome O] [--from now|beginning|TIME] [--json] [--topic NAME]',
    '',
    'Reads every partition of the topic (default: the stream\'s name) without joining any consumer group.',
    'TIME is ISO 8601 or epoch ms.',
    'Colour only on a terminal and without NO_COLOR. diffs filter by --solution only. Runs until SIGINT/SIGTERM.',
  ].join('\n'),
  async run(argv) {
    const { positionals, flags } = parseArgs(argv, new Set(['json']));
    const [stream, ...extra] = positionals;
    if ((stream !== 'traces' && stream !== 'diffs') || extra.length > 0) {
      throw new TracestreamError('CONFIG_INVALID', `usage: ${tailCommand.usage.split('\n')[0]}`);
    }
    const filter = parseOptions(liveFilterSchema, {
      ...(typeof flags['problem'] === 'string' ? { problem: flags['problem'] } : {}),
      ...(typeof flags['solution'] === 'string' ? { solution: flags['solution'] } : {}),
      ...(typeof flags['outcome'] === 'string' ? { outcome: flags['outcome'] } : {}),
    }, 'tail');
    const from = parseLiveFrom(typeof flags['from'] === 'string' ? flags['from'] : 'now');
    const settings = readSettings(flags);
    const shutdown = installShutdown({ deadlineMs: settings.shutdownDeadlineMs });
    const connection = await connect(settings);
    shutdown.register('registry and brokers', () => connection.close());
    const tail = startTail(stream as LiveStream, filter, {
      client: connection.client,
      codec: connection.codec,
      ...(typeof flags['topic'] === 'string' ? { topic: flags['topic'] } : {}),
      from,
      json: flags['json'] === true,
      colour: wantsColour(process.stdout),
      write: (text) => process.stdout.write(text),
      onReady: (partitions) => process.stderr.write(`tracestream: tailing ${stream} from ${typeof flags['from'] === 'string' ? flags['from'] : 'now'} (${partitions} partitions)\n`),
    });
    shutdown.register('tail', () => tail.stop());
    await tail.done;
    return 0;
  },
};
