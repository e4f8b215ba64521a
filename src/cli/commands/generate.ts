import { basename } from 'node:path';
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { TracestreamError } from '../../errors/index.js';
import { createExecutorPool } from '../../executor/index.js';
import { BACKENDS, chooseBackend, imitate, openModel, parseBackendName, renderImitation } from '../../model/index.js';
import { renderCompact } from '../../render/index.js';
import { exitWith } from '../command.js';
import { LIMIT_SETTINGS, SANDBOX_SETTINGS, limitsFrom, settingsOf, withSettings } from '../options.js';

export function generateCommand(): Command {
  const command = new Command('generate')
    .summary('Show a trained model\'s predicted trace of a program beside the real one')
    .description([
      'Runs the program under the tracer, gives the model only its source, lets it write the trace',
      'greedily, and prints both side by side, marking (≠) each record where they differ and (▶) where',
      'they first part.',
    ].join(' '))
    .argument('<program>', 'the Python file')
    .requiredOption('--checkpoint <dir>', 'checkpoint folder written by `tracestream train`')
    .option('--stdin <file>', 'file given to the program as its stdin (default: empty)')
    .option('--max-tokens <n>', 'most tokens the model writes', (v) => Number(v), 2048)
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['auto', ...BACKENDS]).default('auto'));
  withSettings(command, [...SANDBOX_SETTINGS, ...LIMIT_SETTINGS]);
  return command.action(exitWith(async (programPath: string, flags: { checkpoint: string; stdin?: string; maxTokens: number; backend: string }) => {
    if (!Number.isSafeInteger(flags.maxTokens) || flags.maxTokens <= 0) throw new TracestreamError('CONFIG_INVALID', '--max-tokens needs a positive whole number');
    const settings = settingsOf(command);
    const source = await readText(programPath, 'program');
    const stdin = flags.stdin === undefined ? '' : await readText(flags.stdin, '--stdin');
    const backend = await chooseBackend(flags.backend === 'auto' ? BACKENDS : [parseBackendName(flags.backend)]);
    const model = await openModel(flags.checkpoint, backend.kernels);
    const pool = await createExecutorPool({
      concurrency: 1, maxQueued: 0, limits: limitsFrom(settings), sandboxUidBase: settings.sandboxUidBase,
      ...(settings.python === undefined ? {} : { python: settings.python }),
    });
    try {
      const filename = basename(programPath);
      const execution = await pool.run({ source, stdin, filename, runId: filename });
      process.stdout.write(renderImitation(imitate(model, renderCompact(execution, { source }), flags.maxTokens)));
      return 0;
    } finally {
      await pool.close();
      model.dispose();
    }
  }));
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new TracestreamError('INPUT_INVALID', `${what} ${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
  }
}
