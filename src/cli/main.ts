#!/usr/bin/env node
import { COMMANDS } from './commands/index.js';
import { describeSettings } from '../config/settings.js';
import { describeError, TracestreamError } from '../errors/index.js';

function help(): string {
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`);
  return [
    'tracestream: run Python programs under a line tracer and stream their traces through Kafka',
    '',
    'Commands:',
    ...lines,
    '',
    'Settings (flag, environment variable, meaning):',
    describeSettings(),
    '',
    'tracestream <command> --help shows a command\'s usage.',
  ].join('\n');
}

/** How long a failed command's process may take to exit by itself before it is made to. */
const EXIT_GRACE_MS = 3_000;

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(`${help()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    process.stderr.write(`tracestream: unknown command ${JSON.stringify(name)}\n\n${help()}\n`);
    return 2;
  }
  if (rest.includes('--help')) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    const code = error instanceof TracestreamError ? ` [${error.code}]` : '';
    process.stderr.write(`tracestream: ${describeError(error)}${code}\n`);
    process.exitCode = error instanceof TracestreamError && error.code === 'CONFIG_INVALID' ? 2 : 1;
    // A failed command has closed what it opened; whatever a fault left open (a client stuck in a
    // reconnect loop) must not keep the process from exiting. Unref'd: it never delays a clean exit.
    setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
  },
);
