import type { Command } from 'commander';

/**
 * One `tracestream <name>` sub-command: a function that builds its commander `Command` (arguments,
 * flags, help text and action). A new command is a new file under src/cli/commands/ exporting one of
 * these, listed in src/cli/commands/index.ts. Keep it thin: parse flags, call a library function.
 */
export type CommandFactory = () => Command;

/**
 * Wraps a command's action so that the status it resolves to becomes the process exit status
 * (0 ok; 1 the work failed, e.g. a program whose outcome is not ok).
 */
export function exitWith<A extends unknown[]>(action: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args) => {
    process.exitCode = await action(...args);
  };
}
