import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { readSettings } from '../../config/settings.js';
import { TracestreamError } from '../../errors/index.js';
import { createExecutorPool, limitsFromSettings, type Execution } from '../../executor/index.js';
import { renderCompact, renderJson, renderSnoop } from '../../trace/index.js';
import { parseArgs } from '../args.js';
import type { Command } from '../command.js';

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

export const runCommand: Command = {
  name: 'run',
  summary: 'Run one Python program under the tracer and print its trace',
  usage: [
    'tracestream run PROGRAM.py [--stdin FILE] [--format snoop|compact|json] [limit flags]',
    '',
    'Runs the program sandboxed, as the executor pool does, and prints its trace (default: snoop).',
    'Exit status 0 when the outcome is ok, 1 otherwise. Limits: see `tracestream help` (--wall-time-ms, ...).',
  ].join('\n'),
  async run(argv) {
    const { positionals, flags } = parseArgs(argv);
    const [programPath, ...extra] = positionals;
    if (programPath === undefined || extra.length > 0) {
      throw new TracestreamError('CONFIG_INVALID', `run takes exactly one program file; usage: ${runCommand.usage.split('\n')[0]}`);
    }
    const format = flags['format'] ?? 'snoop';
    if (typeof format !== 'string' || !(format in FORMATS)) {
      throw new TracestreamError('CONFIG_INVALID', `--format: must be one of ${Object.keys(FORMATS).join(', ')}, got ${String(format)}`);
    }
    const stdinFlag = flags['stdin'];
    if (stdinFlag !== undefined && typeof stdinFlag !== 'string') {
      throw new TracestreamError('CONFIG_INVALID', '--stdin needs a file path');
    }
    const settings = readSettings(flags);
    const [source, stdin] = await Promise.all([
      readInput(programPath, 'program'),
      stdinFlag === undefined ? Promise.resolve('') : readInput(stdinFlag, '--stdin'),
    ]);
    const pool = await createExecutorPool({
      concurrency: 1,
      maxQueued: 0,
      limits: limitsFromSettings(settings),
      sandboxUidBase: settings.sandboxUidBase,
      ...(settings.python === undefined ? {} : { python: settings.python }),
    });
    try {
      const filename = basename(programPath);
      const execution = await pool.run({ source, stdin, filename, runId: filename });
      process.stdout.write(FORMATS[format as Format](execution, { source, filename }));
      return execution.outcome === 'ok' ? 0 : 1;
    } finally {
      await pool.close();
    }
  },
};

async function readInput(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new TracestreamError('INPUT_INVALID', `${what} ${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
  }
}
