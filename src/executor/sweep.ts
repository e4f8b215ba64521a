import { readdir, readFile } from 'node:fs/promises';

const GONE_WAIT_MS = 2_000;

/**
 * SIGKILLs every live process whose real uid is `uid` and waits (bounded) until none is left. Each
 * pool slot has a uid of its own, so this reaches exactly what that slot's programs left running,
 * whatever session or process group they moved to.
 */
export async function killUidProcesses(uid: number): Promise<void> {
  const deadline = Date.now() + GONE_WAIT_MS;
  for (;;) {
    const pids = await processesOfUid(uid);
    if (pids.length === 0 || Date.now() > deadline) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Exited meanwhile.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Pids of the live (not zombie) processes whose real uid is `uid`, read from /proc. */
export async function processesOfUid(uid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = await readFile(`/proc/${entry}/status`, 'utf8');
      const owner = /^Uid:\s+(\d+)/m.exec(status);
      const state = /^State:\s+(\S)/m.exec(status);
      if (owner !== null && Number(owner[1]) === uid && state?.[1] !== 'Z') pids.push(Number(entry));
    } catch {
      // Exited meanwhile.
    }
  }
  return pids;
}
