import { setTimeout as sleep } from 'node:timers/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { cgroupPids, killCgroup, removeCgroup } from './attempt-cgroup.ts';

/** What `/proc/<pid>/stat` says about a process, or null when it does not exist. */
export interface ProcStat {
  state: string;
  /** Parent's pid: the launcher, for an attempt it started and still reaps. */
  ppid: number;
  /** Process group id. */
  pgrp: number;
  /** Session id. */
  session: number;
  /** Start time in clock ticks since boot: with the pid, identifies a process across pid reuse. */
  startTime: number;
  /** Nice value (of the thread, when read for one). */
  nice: number;
}

/** Reads `/proc/<pid>/stat` (or, given `tid`, that thread's `/proc/<pid>/task/<tid>/stat`); null when it (or /proc) is not there. */
export function readProcStat(pid: number, tid?: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const startTime = Number(fields[19]);
  return { state: fields[0] ?? '?', ppid: Number(fields[1]), pgrp: Number(fields[2]), session: Number(fields[3]), startTime: Number.isFinite(startTime) ? startTime : -1, nice: Number(fields[16]) };
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
  return !hasProcfs() && pidExists(pid);
}

/** True when a process (a zombie too) has the number `pid`: a signal 0, far cheaper than reading /proc, and blind to pid reuse. */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * False for a number that cannot be an attempt's process group: init's, and this process's own
 * pid, group or session. A marker file is data a task could have forged: signalling `-1` or our
 * own group would reach every process we may signal.
 */
export function isAttemptGroupId(pgid: number): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1 || pgid === process.pid) return false;
  const own = readProcStat(process.pid);
  return own === null || (pgid !== own.pgrp && pgid !== own.session);
}

/**
 * Live processes (zombies excluded) of process group `pgid` or of the session it leads: a task
 * that makes its own process group (`set -m`, `setpgid`) stays in the session; only `setsid`
 * leaves both (a cgroup holds it). Without /proc: the group's leader stands for the group.
 */
export function groupMembers(pgid: number): number[] {
  if (!isAttemptGroupId(pgid)) return [];
  if (!hasProcfs()) {
    try {
      process.kill(-pgid, 0);
      return [pgid];
    } catch {
      return [];
    }
  }
  const members: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProcStat(Number(name));
    if (stat !== null && (stat.pgrp === pgid || stat.session === pgid) && stat.state !== 'Z' && stat.state !== 'X') members.push(Number(name));
  }
  return members;
}

/** What makes up one attempt's processes: its process group (and session), and its cgroup when it has one. */
export interface AttemptProcesses {
  /** The wrapper's pid: it leads the attempt's session and group (never signalled unless `isAttemptGroupId`). */
  pgid: number;
  /** The attempt's cgroup v2 directory, when it runs in one. */
  cgroup: string | null;
}

/** Live pids of the attempt: its group and session members, and everything in its cgroup. */
export function attemptPids(target: AttemptProcesses): number[] {
  const pids = new Set(groupMembers(target.pgid));
  if (target.cgroup !== null) for (const pid of cgroupPids(target.cgroup)) if (isProcessAlive(pid)) pids.add(pid);
  return [...pids];
}

/**
 * Sends SIGTERM to every process of the attempt, waits up to `graceMs` for them to go, then
 * SIGKILLs them (the cgroup at once through `cgroup.kill`, the group, each remaining member).
 * `graceMs` 0 goes straight to SIGKILL (a cancel a crash interrupted: its grace has passed).
 * Resolves once none is left (or after a last wait), and removes the emptied cgroup.
 */
export async function killAttemptProcesses(target: AttemptProcesses, graceMs: number): Promise<void> {
  const send = (signal: NodeJS.Signals): void => {
    const signalOne = (pid: number): void => {
      try {
        process.kill(pid, signal);
      } catch {
        // Already gone.
      }
    };
    // The group at once (catches a fork racing the listing), only while it has members: a group id is reused once it is empty.
    if (groupMembers(target.pgid).length > 0) signalOne(-target.pgid);
    for (const pid of attemptPids(target)) signalOne(pid);
  };
  if (graceMs > 0 && attemptPids(target).length > 0) {
    send('SIGTERM');
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && attemptPids(target).length > 0) await sleep(25);
  }
  if (attemptPids(target).length > 0) {
    if (target.cgroup !== null) killCgroup(target.cgroup);
    send('SIGKILL');
  }
  for (let i = 0; i < 80 && attemptPids(target).length > 0; i += 1) await sleep(25);
  if (target.cgroup !== null) removeCgroup(target.cgroup);
}
