/**
 * CPU time of this process and of its child processes, from /proc (Linux): on a shared machine the
 * wall time of a mode says how the machine was shared out as much as what the mode costs.
 */
import { readdir, readFile } from 'node:fs/promises';

const TICKS_PER_SECOND = 100; // USER_HZ: the unit of /proc/<pid>/stat's times on Linux

export interface CpuUse {
  /** This process (the bench and the pool's Node side). */
  ownSeconds: number;
  /** Its children: those it reaped (fresh interpreters) and those alive (the pool's zygotes, with the runs they reaped). */
  childrenSeconds: number;
}

export async function cpuUse(): Promise<CpuUse> {
  const { user, system } = process.cpuUsage();
  const self = statFields(await readFile('/proc/self/stat', 'utf8'));
  let ticks = Number(self[13]) + Number(self[14]); // cutime + cstime: children reaped
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => null);
    if (stat === null) continue;
    const fields = statFields(stat);
    if (Number(fields[1]) !== process.pid) continue;
    ticks += [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0); // utime, stime, cutime, cstime
  }
  return { ownSeconds: (user + system) / 1e6, childrenSeconds: ticks / TICKS_PER_SECOND };
}

/** The fields after the command name (which may hold spaces and parentheses): [0] is the state. */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}
