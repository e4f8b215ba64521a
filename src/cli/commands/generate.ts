import { basename } from 'node:path';
import { readFile } from 'node:fs/promises';
import { readSettings } from '../../config/settings.js';
import { TracestreamError } from '../../errors/index.js';
import { createExecutorPool, limitsFromSettings } from '../../executor/index.js';
import { BACKENDS, chooseBackend, imitate, openModel, parseBackendName, renderImitation } from '../../model/index.js';
import { renderCompact } from '../../trace/index.js';
import { parseArgs, requireString } from '../args.js';
import type { Command } from '../command.js';

export const generateCommand: Command = {
  name: 'generate',
  summary: 'Show a trained model\'s predicted trace of a program beside the real one',
  usage: [
    'tracestream generate --checkpoint DIR PROGRAM.py [--stdin FILE] [--max-tokens N] [--backend NAME] [limit flags]',
    '',
    'Runs the program under the tracer, gives the model only its source, lets it write the trace',
    'greedily, and prints both side by side, marking (≠) each record where they differ and (▶)',
    'where they first part.',
  ].join('\n'),
  async run(argv) {
    const { positionals, flags } = parseArgs(argv);
    const [programPath, ...extra] = positionals;
    if (programPath === undefined || extra.length > 0) throw new TracestreamError('CONFIG_INVALID', 'generate takes exactly one program file');
    const checkpointDir = requireString(flags, 'checkpoint');
    const settings = readSettings(flags);
    const maxTokens = typeof flags['max-tokens'] === 'string' ? Number(flags['max-tokens']) : 2048;
    if (!Number.isSafeInteger(maxTokens) || maxTokens <= 0) throw new TracestreamError('CONFIG_INVALID', '--max-tokens needs a positive whole number');
    const source = await readText(programPath, 'program');
    const stdin = typeof flags['stdin'] === 'string' ? await readText(flags['stdin'], '--stdin') : '';
    const backend = await chooseBackend(typeof flags['backend'] === 'string' ? [parseBackendName(flags['backend'])] : BACKENDS);
    const model = await openModel(checkpointDir, backend.embedding);
    const pool = await createExecutorPool({
      concurrency: 1, maxQueued: 0, limits: limitsFromSettings(settings), sandboxUidBase: settings.sandboxUidBase,
      ...(settings.python === undefined ? {} : { python: settings.python }),
    });
    try {
      const filename = basename(programPath);
      const execution = await pool.run({ source, stdin, filename, runId: filename });
      process.stdout.write(renderImitation(imitate(model, renderCompact(execution, { source }), maxTokens)));
      return 0;
    } finally {
      await pool.close();
      model.dispose();
    }
  },
};

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new TracestreamError('INPUT_INVALID', `${what} ${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
  }
}
