#!/usr/bin/env node
import { CommanderError } from 'commander';
import { describeError, TracestreamError } from '../errors/index.js';
import { buildProgram, statusOfCommanderError, USAGE_ERROR_STATUS } from './program.js';

/** How long a failed command's process may take to exit by itself before it is made to. */
const EXIT_GRACE_MS = 3_000;

async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram();
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    process.exitCode = USAGE_ERROR_STATUS;
    return;
  }
  await program.parseAsync(argv, { from: 'user' });
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof CommanderError) {
    // commander has already printed the message (it names the flag) and the usage hint.
    process.exitCode = statusOfCommanderError(error);
    return;
  }
  const code = error instanceof TracestreamError ? ` [${error.code}]` : '';
  process.stderr.write(`tracestream: ${describeError(error)}${code}\n`);
  process.exitCode = error instanceof TracestreamError && error.code === 'CONFIG_INVALID' ? USAGE_ERROR_STATUS : 1;
  // A failed command has closed what it opened; whatever a fault left open (a client stuck in a
  // reconnect loop) must not keep the process from exiting. Unref'd: it never delays a clean exit.
  setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
});
