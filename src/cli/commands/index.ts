import type { Command } from '../command.js';

/** Every sub-command, in the order `tracestream help` lists them. */
export const COMMANDS: readonly Command[] = [];
