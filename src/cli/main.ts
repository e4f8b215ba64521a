#!/usr/bin/env node
import { CommanderError } from 'commander';
import { describeError, TracestreamError } from '../errors/index.js';
import { buildProgram, statusOfCommanderError, USAGE_ERROR_STATUS } from './program.js';

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
});
