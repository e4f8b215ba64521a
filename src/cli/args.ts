import { TracestreamError } from '../errors/index.js';
import type { Flags } from '../config/settings.js';

export interface ParsedArgs {
  positionals: string[];
  flags: Flags;
}

/**
 * `--name value`, `--name=value` and bare `--switch` (true). A flag listed in `booleanFlags` never
 * takes the next argument as its value.
 */
export function parseArgs(argv: readonly string[], booleanFlags: ReadonlySet<string> = new Set()): ParsedArgs {
  const positionals: string[] = [];
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq !== -1) {
      flags[arg.slice(2, eq)] = arg.slice(eq + 1);
      continue;
    }
    const name = arg.slice(2);
    const next = argv[i + 1];
    if (booleanFlags.has(name) || next === undefined || next.startsWith('--')) {
      flags[name] = true;
    } else {
      flags[name] = next;
      i++;
    }
  }
  return { positionals, flags };
}

export function requireString(flags: Flags, name: string): string {
  const value = flags[name];
  if (typeof value !== 'string') {
    throw new TracestreamError('CONFIG_INVALID', `--${name} needs a value`);
  }
  return value;
}
