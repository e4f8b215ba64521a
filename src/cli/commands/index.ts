import type { CommandFactory } from '../command.js';
import { brokerCommand } from './broker.js';
import { produceCommand } from './produce.js';
import { replayCommand } from './replay.js';
import { runCommand } from './run.js';
import { serveCommand } from './serve.js';
import { tailCommand } from './tail.js';
import { topologyCommand } from './topology.js';
import { traceCommand } from './trace.js';
import { trainCommand } from './train.js';
import { generateCommand } from './generate.js';

/** Every sub-command, in the order `tracestream --help` lists them. A new command: one file, one line here. */
export const COMMANDS: readonly CommandFactory[] = [traceCommand, replayCommand, runCommand, produceCommand, topologyCommand, brokerCommand, tailCommand, serveCommand, trainCommand, generateCommand];
