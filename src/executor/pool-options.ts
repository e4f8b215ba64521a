import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { parseOptions } from '../errors/index.js';
import type { Limits } from '../runs/index.js';

/** The uid range slots claim from when running as root (see `sandboxUidBase`). */
export const DEFAULT_SANDBOX_UID_BASE = 61_000;

const poolSchema = z.object({
  /** Programs run at once, one zygote each. Default: `os.availableParallelism()`. */
  concurrency: z.number().int().positive().optional(),
  /** Runs that may wait for a free slot; past it `run` refuses (EXECUTOR_SATURATED). Default: 4 × concurrency. */
  maxQueued: z.number().int().nonnegative().optional(),
  /** Interpreter path or name (the `python` setting); unset: see `chooseInterpreter`. */
  python: z.string().min(1).optional(),
  /**
   * As root, each slot claims the first uid from `sandboxUidBase` up that no other executor on the
   * host holds (a lock per uid), and runs its programs as that uid/gid.
   */
  sandboxUidBase: z.number().int().min(1000).max(2 ** 31 - 1024).default(DEFAULT_SANDBOX_UID_BASE),
  /** How many uids from `sandboxUidBase` slots may claim. */
  sandboxUidCount: z.number().int().positive().default(1_000),
  /** Defaults for every run; a request's own `limits` override them (checked by `resolveLimits`). */
  limits: z.record(z.string(), z.number().optional()).optional(),
  /** Where run dirs are made. Default: `os.tmpdir()`. */
  runDirParent: z.string().min(1).optional(),
  /** Put the zygotes in an empty network namespace when possible (root + `unshare -n`). */
  isolateNetwork: z.boolean().default(true),
  /** As root, run each program in a box: its own pid, mount and IPC namespaces and file system (box.py). */
  box: z.boolean().default(true),
  /** The audit hooks, the sandbox's second layer; false only to test the kernel's layer alone. */
  auditHooks: z.boolean().default(true),
}).transform((o) => {
  const concurrency = o.concurrency ?? availableParallelism();
  return { ...o, concurrency, maxQueued: o.maxQueued ?? 4 * concurrency };
}).refine((o) => o.sandboxUidCount >= o.concurrency, {
  message: 'must be at least concurrency (one uid per slot)', path: ['sandboxUidCount'],
});

export type ExecutorPoolOptions = Omit<z.input<typeof poolSchema>, 'limits'> & { limits?: Partial<Limits> };

export function parsePoolOptions(options: ExecutorPoolOptions): z.output<typeof poolSchema> {
  return parseOptions(poolSchema, options, 'createExecutorPool');
}
