import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CHROMIUM_PATH } from '../harness/chromium.ts';
import { readTextIfExistsSync } from '../operators/atomic-file.ts';
import { readProcStat } from '../operators/process-group.ts';

/** The name its processes run under (Debian's /usr/bin/chromium is a script that execs the browser). */
const CHROMIUM_NAME = path.basename(CHROMIUM_PATH);

/** Where cgroup v1's cpu controller is mounted (this project's machines); cgroup v2 is not handled. */
const CPU_V1 = '/sys/fs/cgroup/cpu';
/** cpu.shares of the group: 2 is the least (a process at the default has 1024). */
const LEAST_SHARES = 2;

/**
 * A cgroup with the least CPU share for the browsers that stand for viewers' own machines: on a small
 * machine they would otherwise take the CPU of the run they watch.
 */
export interface ViewerCgroup {
  /** Moves every Chromium process started by this process (and so what they start later) into the group. */
  confineBrowsers(): void;
}

/** Makes the group (or finds it made); why not, when this machine has no writable cgroup v1 cpu controller. */
export function viewerCgroup(): ViewerCgroup | string {
  if (!existsSync(path.join(CPU_V1, 'cpu.shares'))) return `no cgroup v1 cpu controller at ${CPU_V1}`;
  // One group for every bench, left in place: a closed browser's processes linger in it for a while.
  const dir = path.join(CPU_V1, 'ms-bench-viewers');
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'cpu.shares'), String(LEAST_SHARES));
  } catch (error) {
    return `cannot make ${dir}: ${(error as Error).message}`;
  }
  return {
    confineBrowsers: () => {
      for (const pid of chromiumDescendants()) writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
    },
  };
}

/** Pids of the Chromium processes below this process. */
function chromiumDescendants(): number[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    const stat = readProcStat(Number(name));
    // Null: the process ended while the table was read, nothing to move.
    if (stat !== null) parents.set(Number(name), stat.ppid);
  }
  return [...parents.keys()].filter((pid) => {
    if (readTextIfExistsSync(`/proc/${pid}/comm`)?.trim() !== CHROMIUM_NAME) return false;
    let up = parents.get(pid) ?? 0;
    while (up > 1 && up !== process.pid) up = parents.get(up) ?? 0;
    return up === process.pid;
  });
}
