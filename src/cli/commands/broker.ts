import { readSettings } from '../../config/settings.js';
import { startEmbeddedBroker } from '../../kafka/index.js';
import { parseArgs } from '../args.js';
import type { Command } from '../command.js';

export const brokerCommand: Command = {
  name: 'broker',
  summary: 'Start an embedded Kafka mock cluster and keep it up until SIGTERM/SIGINT',
  usage: [
    'tracestream broker [--brokers-count N]',
    '',
    'Prints `bootstrap.servers=<host:port,...>` as the first stdout line, then serves until SIGTERM or SIGINT.',
    'The mock cluster has no CreateTopics: topics auto-create with 4 partitions on first use.',
  ].join('\n'),
  async run(argv) {
    const { flags } = parseArgs(argv);
    const settings = readSettings(flags);
    // Listening before the address is printed: whoever reads it may stop the broker at once.
    const stopRequested = new Promise<void>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    const broker = await startEmbeddedBroker({ brokers: settings.embeddedBrokerCount });
    process.stdout.write(`bootstrap.servers=${broker.bootstrapServers}\n`);
    await stopRequested;
    await broker.close();
    return 0;
  },
};
