import { Command, CommanderError } from 'commander';
import { describeSettings } from '../config/settings.js';
import { COMMANDS } from './commands/index.js';

/** Exit status of a command line that could not be parsed (unknown flag, missing value, bad choice). */
export const USAGE_ERROR_STATUS = 2;

/**
 * The `tracestream` command line: every command of COMMANDS with its own `--help`. Unknown flags,
 * flags without their value and extra arguments are errors that name them; `exitOverride` turns
 * commander's exits into CommanderErrors so main decides the status.
 */
export function buildProgram(): Command {
  const program = new Command('tracestream')
    .description('Run Python programs under a line tracer and stream their traces through Kafka')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', `\nSettings (flag, environment variable, meaning); each command takes those it uses:\n${describeSettings()}`);
  for (const factory of COMMANDS) program.addCommand(factory().exitOverride().showHelpAfterError('(add --help for usage)'));
  return program;
}

/** The status for a CommanderError: 0 after --help, USAGE_ERROR_STATUS for a command line it refused. */
export function statusOfCommanderError(error: CommanderError): number {
  if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
  if (error.code === 'commander.help') return error.exitCode;
  return USAGE_ERROR_STATUS;
}
