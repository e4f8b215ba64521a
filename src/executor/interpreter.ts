import { execa } from 'execa';
import { TracestreamError } from '../errors/index.js';

/** The Python that runs programs, and the identity it runs them as. */
export interface Interpreter {
  /** What was given or found: an absolute path or a name looked up on PATH. */
  command: string;
  /** `major.minor.micro` as the interpreter reports it. */
  version: string;
}

export interface SandboxIdentity {
  uid: number;
  gid: number;
}

export interface ChooseInterpreterOptions {
  /** The `python` setting; unset: the first of `/usr/bin/python3`, `python3` on PATH that works. */
  python?: string | undefined;
  /** When set (running as root), each candidate must work as this uid, as programs will run. */
  sandbox?: SandboxIdentity | undefined;
  timeoutMs?: number;
}

const DEFAULT_CANDIDATES = ['/usr/bin/python3', 'python3'] as const;
const PROBE = 'import sys; assert sys.version_info >= (3, 9), sys.version; print("%d.%d.%d" % sys.version_info[:3])';

/**
 * The first candidate that really runs, as the sandbox user when there is one: an interpreter
 * under a private home (pyenv under /root, say) starts for root but not for the user programs run
 * as, and its zygote would then fail on the first import after the privilege drop.
 */
export async function chooseInterpreter(options: ChooseInterpreterOptions = {}): Promise<Interpreter> {
  const candidates = options.python === undefined ? DEFAULT_CANDIDATES : [options.python];
  const failures: string[] = [];
  for (const command of candidates) {
    const probe = await execa(command, ['-c', PROBE], {
      reject: false,
      cwd: '/',
      env: { PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin' },
      extendEnv: false,
      stdin: 'ignore',
      timeout: options.timeoutMs ?? 10_000,
      ...(options.sandbox === undefined ? {} : { uid: options.sandbox.uid, gid: options.sandbox.gid }),
    });
    const version = probe.stdout.trim();
    if (probe.exitCode === 0 && /^\d+\.\d+\.\d+$/.test(version)) return { command, version };
    const why = probe.failed && probe.exitCode === undefined ? probe.shortMessage : (probe.stderr.trim().split('\n').at(-1) ?? '');
    failures.push(`${command}: ${why || `exit status ${probe.exitCode}`}`);
  }
  const as = options.sandbox === undefined ? '' : ` as uid ${options.sandbox.uid}`;
  throw new TracestreamError(
    'INTERPRETER_UNAVAILABLE',
    `no usable Python 3.9+ interpreter${as} (tried ${failures.join('; ')}); set --python / TRACESTREAM_PYTHON`,
    { details: { tried: [...candidates] } },
  );
}
