import type { Command } from '../command.js';
import { brokerCommand } from './broker.js';
import { produceCommand } from './produce.js';
import { runCommand } from './run.js';
import { serveCommand } from './serve.js';
import { tailCommand } from './tail.js';
import { topologyCommand } from './topology.js';
import { traceCommand } from './trace.js';

/** Every sub-command, in the order `tracestream help` lists them. */
export const COMMANDS: readonly Command[] = [traceCommand, runCommand, produceCommand, topologyCommand, brokerCommand, tailCommand, serveCommand];
