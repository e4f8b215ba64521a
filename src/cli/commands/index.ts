import type { Command } from '../command.js';
import { brokerCommand } from './broker.js';
import { produceCommand } from './produce.js';
import { replayCommand } from './replay.js';
import { runCommand } from './run.js';
import { topologyCommand } from './topology.js';
import { traceCommand } from './trace.js';

/** Every sub-command, in the order `tracestream help` lists them. */
export const COMMANDS: readonly Command[] = [traceCommand, replayCommand, runCommand, produceCommand, topologyCommand, brokerCommand];
