import { Command } from 'commander';
import { startEmbeddedBroker } from '../../kafka/index.js';
import { exitWith } from '../command.js';
import { settingsOf, withSettings } from '../options.js';

export function brokerCommand(): Command {
  const command = new Command('broker')
    .summary('Start an embedded Kafka mock cluster and keep it up until SIGTERM/SIGINT')
    .description([
      'Prints `bootstrap.servers=<host:port,...>` as the first stdout line, then serves until SIGTERM or SIGINT.',
      'The mock cluster has no CreateTopics: topics auto-create with 4 partitions on first use.',
    ].join(' '));
  withSettings(command, ['embeddedBrokerCount']);
  return command.action(exitWith(async () => {
    const settings = settingsOf(command);
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
  }));
}
