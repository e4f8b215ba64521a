import { constants, type Stats } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
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
  const remove = () => removeTree(path);
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

/**
 * Removes a run dir whatever the program built in it. Node's recursive rm walks by full path and
 * fails with ENAMETOOLONG on directories nested past PATH_MAX (a program can make them in its work
 * dir); GNU rm walks relative to each directory's fd and removes any depth.
 */
async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    await execa('rm', ['-rf', '--', path], { stdin: 'ignore' });
  }
}

/** The first (or last) `maxBytes` of a file and its full size. */
export interface FilePrefix {
  bytes: Buffer;
  size: number;
}

/**
 * What reading a run's file gave: its bytes, nothing (it does not exist), or why it was not read
 * (an OS error, or something other than a plain file). Never an exception: no file of a run may
 * fail the run.
 */
export type FileRead = FilePrefix | { absent: true } | { unread: string };

/** Reads a capture file the zygote created (out of the program's reach). */
export async function readPrefix(path: string, maxBytes: number): Promise<FileRead> {
  return readBounded(path, maxBytes, constants.O_RDONLY | constants.O_NONBLOCK, 'head');
}

/** The last `maxBytes` of a file. */
export async function readTail(path: string, maxBytes: number): Promise<FileRead> {
  return readBounded(path, maxBytes, constants.O_RDONLY | constants.O_NONBLOCK, 'tail');
}

/**
 * Reads a file the program wrote in its work dir. The program controls that path: a symlink, a FIFO,
 * a unix socket, a directory or a hard link to someone else's file must not make the pool read (or
 * wait on, or fail on) anything else. O_NOFOLLOW refuses a symlink, O_NONBLOCK keeps a FIFO from
 * blocking the open, and only a regular file owned by the sandbox uid is read.
 */
export async function readProgramFile(path: string, maxBytes: number, owner: SandboxIdentity | undefined): Promise<FileRead> {
  const flags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  return readBounded(path, maxBytes, flags, 'head', owner?.uid);
}

/** The bytes of a read, or undefined when there were none. */
export function bytesOf(read: FileRead): Buffer | undefined {
  return 'bytes' in read ? read.bytes : undefined;
}

const NOT_A_FILE: Record<string, string> = {
  ELOOP: 'a symlink', ENXIO: 'a socket', EISDIR: 'a directory', ENAMETOOLONG: 'a path too long',
};

async function readBounded(path: string, maxBytes: number, flags: number, end: 'head' | 'tail', ownerUid?: number): Promise<FileRead> {
  let handle;
  try {
    handle = await open(path, flags);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'an unknown error';
    if (code === 'ENOENT') return { absent: true };
    return { unread: NOT_A_FILE[code] === undefined ? `could not be opened (${code})` : `is ${NOT_A_FILE[code]}, not a file` };
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return { unread: `is ${kindOf(stat)}, not a file` };
    if (ownerUid !== undefined && stat.uid !== ownerUid) return { unread: 'belongs to another user' };
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
  } catch (error) {
    return { unread: `could not be read (${(error as NodeJS.ErrnoException).code ?? 'an unknown error'})` };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function kindOf(stat: Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  return 'not a regular file';
}
