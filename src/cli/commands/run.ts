import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { Command, Option } from 'commander';
import { TracestreamError } from '../../errors/index.js';
import { createExecutorPool } from '../../executor/index.js';
import { type Execution } from '../../runs/index.js';
import { renderCompact, renderJson, renderSnoop } from '../../render/index.js';
import { exitWith } from '../command.js';
import { LIMIT_SETTINGS, SANDBOX_SETTINGS, limitsFrom, settingsOf, withSettings } from '../options.js';

interface Program {
  source: string;
  filename: string;
}

const FORMATS = {
  snoop: (execution: Execution, program: Program) => renderSnoop(execution, program),
  compact: (execution: Execution) => renderCompact(execution),
  json: (execution: Execution) => `${renderJson(execution)}\n`,
} as const;

type Format = keyof typeof FORMATS;

export function runCommand(): Command {
  const command = new Command('run')
    .summary('Run one Python program under the tracer and print its trace')
    .description([
      'Runs the program sandboxed, as the executor pool does, and prints its trace (default: snoop).',
      'Exit status 0 when the outcome is ok, 1 otherwise.',
    ].join(' '))
    .argument('<program>', 'the Python file to run')
    .option('--stdin <file>', 'file given to the program as its stdin (default: empty)')
    .addOption(new Option('--format <format>', 'how to print the trace').choices(Object.keys(FORMATS)).default('snoop'));
  withSettings(command, [...SANDBOX_SETTINGS, ...LIMIT_SETTINGS]);
  return command.action(exitWith(async (programPath: string, options: { stdin?: string; format: Format }) => {
    const settings = settingsOf(command);
    const [source, stdin] = await Promise.all([
      readInput(programPath, 'program'),
      options.stdin === undefined ? Promise.resolve('') : readInput(options.stdin, '--stdin'),
    ]);
    const pool = await createExecutorPool({
      concurrency: 1,
      maxQueued: 0,
      limits: limitsFrom(settings),
      sandboxUidBase: settings.sandboxUidBase,
      ...(settings.python === undefined ? {} : { python: settings.python }),
    });
    try {
      const filename = basename(programPath);
      const execution = await pool.run({ source, stdin, filename, runId: filename });
      process.stdout.write(FORMATS[options.format](execution, { source, filename }));
      return execution.outcome === 'ok' ? 0 : 1;
    } finally {
      await pool.close();
    }
  }));
}

async function readInput(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new TracestreamError('INPUT_INVALID', `${what} ${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
  }
}
