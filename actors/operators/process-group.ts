import { setTimeout as sleep } from 'node:timers/promises';
import { readdirSync, readFileSync } from 'node:fs';

/** What `/proc/<pid>/stat` says about a process, or null when it does not exist. */
export interface ProcStat {
  state: string;
  /** Process group id. */
  pgrp: number;
  /** Start time in clock ticks since boot: with the pid, identifies a process across pid reuse. */
  startTime: number;
}

/** Reads `/proc/<pid>/stat`; null when the process (or /proc) is not there. */
export function readProcStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const startTime = Number(fields[19]);
  return { state: fields[0] ?? '?', pgrp: Number(fields[2]), startTime: Number.isFinite(startTime) ? startTime : -1 };
}

/** True when /proc is usable here (Linux). */
export function hasProcfs(): boolean {
  return readProcStat(process.pid) !== null;
}

/**
 * True when `pid` runs and, if `startTime` is known, is the same process that was recorded
 * (defeats pid reuse). Zombies count as dead: they have exited.
 */
export function isProcessAlive(pid: number, startTime?: number | null): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const stat = readProcStat(pid);
  if (stat !== null) {
    if (stat.state === 'Z' || stat.state === 'X') return false;
    return startTime === undefined || startTime === null || stat.startTime === startTime;
  }
  if (hasProcfs()) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True while any process of group `pgid` has not exited (zombies excluded where /proc tells). */
export function groupHasLiveMembers(pgid: number): boolean {
  if (hasProcfs()) {
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const stat = readProcStat(Number(name));
      if (stat !== null && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') return true;
    }
    return false;
  }
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Sends SIGTERM to the process group `pgid`, waits up to `graceMs` for its leader and the group
 * to go, then SIGKILLs the group. Resolves once the leader is gone (or after the SIGKILL).
 */
export async function killProcessGroup(pgid: number, leaderStartTime: number | null, graceMs: number): Promise<void> {
  const send = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pgid, signal);
    } catch {
      // Already gone.
    }
  };
  send('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!groupHasLiveMembers(pgid)) return;
    await sleep(25);
  }
  send('SIGKILL');
  for (let i = 0; i < 40 && (isProcessAlive(pgid, leaderStartTime) || groupHasLiveMembers(pgid)); i += 1) await sleep(25);
}
