import { constants } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SandboxIdentity } from './interpreter.js';

/**
 * A run's private directory: `<parent>/tracestream-XXXXXX/` (the pool's user, 0711) holds the
 * source and stdin files and the capture files the zygote creates (stdout, stderr, trace, and the
 * copy of the OUTPUT_PATH file when boxed), all 0600, out of the program's reach.
 *
 * Boxed (root, see box.py): the zygote mounts the run's own tmpfs on `work/`, which the program sees
 * as /sandbox; nothing else of the run dir is in its box.
 *
 * Otherwise `work/` is the program's cwd (0700), which the forked child gives to the sandbox user
 * before it drops privileges (so a run dir can be made before its slot is known).
 * The run dir is searchable but not listable or writable by others, so the program can reach its
 * work dir by absolute path (`open(os.environ['OUTPUT_PATH'], 'w')`, HackerRank's template) and
 * nothing else in it. `parent` must be searchable by the sandbox uids (the default, /tmp, is).
 * After the run the zygote locks it (0700): the slot's next program, same uid, cannot reach it.
 */
export interface RunDir {
  path: string;
  workDir: string;
  sourcePath: string;
  stdinPath: string;
  stdoutPath: string;
  stderrPath: string;
  tracePath: string;
  /** The program's OUTPUT_PATH file when not boxed (the program controls it: read with readProgramFile). */
  outputPath: string;
  /** When boxed: the zygote's copy of the OUTPUT_PATH file (its first outputBytes + 1 bytes). */
  outputCopyPath: string;
  /** Makes the directory unreachable for the sandbox uids (what the zygote does after each run). */
  lock(): Promise<void>;
  /** Removes the whole directory; idempotent. */
  remove(): Promise<void>;
}

export async function createRunDir(parent: string, stdin: string, source: string): Promise<RunDir> {
  const path = await mkdtemp(join(parent, 'tracestream-'));
  await chmod(path, 0o711);
  const remove = () => rm(path, { recursive: true, force: true, maxRetries: 3 });
  try {
    const workDir = join(path, 'work');
    await mkdir(workDir, { mode: 0o700 });
    const stdinPath = join(path, 'stdin');
    const sourcePath = join(path, 'source');
    await Promise.all([writeFile(stdinPath, stdin, { mode: 0o600 }), writeFile(sourcePath, source, { mode: 0o600 })]);
    return {
      path,
      workDir,
      sourcePath,
      stdinPath,
      stdoutPath: join(path, 'stdout'),
      stderrPath: join(path, 'stderr'),
      tracePath: join(path, 'trace'),
      outputPath: join(workDir, 'output.txt'),
      outputCopyPath: join(path, 'output'),
      lock: () => chmod(path, 0o700),
      remove,
    };
  } catch (error) {
    await remove();
    throw error;
  }
}

/** The first `maxBytes` of a file and its full size; null when it does not exist. */
export interface FilePrefix {
  bytes: Buffer;
  size: number;
}

/** Reads a capture file the zygote created (out of the program's reach). */
export async function readPrefix(path: string, maxBytes: number): Promise<FilePrefix | null> {
  return readBounded(path, maxBytes, constants.O_RDONLY, 'head');
}

/** The last `maxBytes` of a file. */
export async function readTail(path: string, maxBytes: number): Promise<FilePrefix | null> {
  return readBounded(path, maxBytes, constants.O_RDONLY, 'tail');
}

/**
 * Reads a file the program wrote in its work dir. The program controls that path: a symlink, a FIFO,
 * or a hard link to someone else's file must not make the pool read (or wait on) anything else.
 */
export async function readProgramFile(path: string, maxBytes: number, owner: SandboxIdentity | undefined): Promise<FilePrefix | null> {
  const flags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  return readBounded(path, maxBytes, flags, 'head', owner?.uid);
}

async function readBounded(path: string, maxBytes: number, flags: number, end: 'head' | 'tail', ownerUid?: number): Promise<FilePrefix | null> {
  let handle;
  try {
    handle = await open(path, flags);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ELOOP') return null;
    throw error;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || (ownerUid !== undefined && stat.uid !== ownerUid)) return null;
    const length = Math.min(stat.size, maxBytes);
    const bytes = Buffer.alloc(length);
    const position = end === 'head' ? 0 : stat.size - length;
    let read = 0;
    while (read < length) {
      const { bytesRead } = await handle.read(bytes, read, length - read, position + read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return { bytes: bytes.subarray(0, read), size: stat.size };
  } finally {
    await handle.close();
  }
}
