import { readdir, readFile } from 'node:fs/promises';

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
