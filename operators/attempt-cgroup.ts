import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A cgroup v2 per local attempt, where this machine lets us create one: a process that leaves
 * the attempt's session and process group (`setsid`, a double fork) stays in its cgroup, and
 * `cgroup.kill` (Linux 5.14+) ends every process in it at once. Elsewhere the operator falls back
 * to process groups.
 */

/** The mount found by the first `cgroup2Mount` (mounts do not move under a running orchestrator; read per task, it cost ~0.3 ms). */
let knownMount: string | null | undefined;

/** Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on hybrid systems); null without one. */
function cgroup2Mount(): string | null {
  knownMount ??= findCgroup2Mount();
  return knownMount;
}

function findCgroup2Mount(): string | null {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
    // No /proc (not Linux, or hidden): no cgroup v2 here, the operator uses process groups.
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    // "<id> <parent> <dev> <root> <mount point> <options> [optional...] - <fstype> <source> <super options>"
    const [left, right] = line.split(' - ');
    if (right?.startsWith('cgroup2 ') && left !== undefined) return left.split(' ')[4] ?? null;
  }
  return null;
}

/** This process's own cgroup v2 path ("0::/path" in /proc/self/cgroup). */
function ownCgroup(): string | null {
  try {
    const line = readFileSync('/proc/self/cgroup', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
    return line === undefined ? null : line.slice(3);
    // No /proc/self/cgroup: no cgroup of our own to nest attempts under; process groups only.
  } catch {
    return null;
  }
}

/** The cgroup name of an attempt folder: a hash of its path (ids may repeat across workspaces). */
function cgroupName(attemptDir: string): string {
  return createHash('sha256').update(path.resolve(attemptDir)).digest('hex').slice(0, 24);
}

/**
 * Where this process's attempt cgroups go, `<own cgroup>/matterstack`, found once (read per task,
 * /proc/self/cgroup and the recursive mkdir cost ~0.2 ms); null without cgroup v2.
 */
let knownParent: string | null | undefined;
/** Set once a cgroup made here had `cgroup.kill` (the kernel has it for every cgroup or none). */
let killable = false;

function attemptCgroupParent(): string | null {
  if (knownParent !== undefined) return knownParent;
  const mount = cgroup2Mount();
  const own = ownCgroup();
  knownParent = mount === null || own === null ? null : path.join(mount, own, 'matterstack');
  return knownParent;
}

/**
 * Creates (or finds) the cgroup of the attempt folder `attemptDir` under this process's own
 * cgroup, `<own>/matterstack/<hash of the folder>`; null when cgroup v2 with `cgroup.kill` is not
 * there or not writable here.
 */
export function createAttemptCgroup(attemptDir: string): string | null {
  const parent = attemptCgroupParent();
  if (parent === null) return null;
  const dir = path.join(parent, cgroupName(attemptDir));
  try {
    mkdirSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      if (!makeCgroup(dir)) return null;
    } else if (code !== 'EEXIST') return null;
  }
  if (!killable) killable = existsSync(path.join(dir, 'cgroup.kill'));
  if (killable) return dir;
  // A kernel without cgroup.kill (before 5.14): no attempt cgroups on this machine, and none left behind.
  removeCgroup(dir);
  knownParent = null;
  return null;
}

/**
 * The path of attempt folder `attemptDir`'s cgroup for a launch that creates it in the attempt's own
 * process (see LaunchRequest): one mkdir fewer on this thread per task. Until a cgroup made here
 * showed that this machine lets us (and has `cgroup.kill`), it is made and checked here, as
 * `createAttemptCgroup` does; null without cgroups.
 */
export function attemptCgroupForLaunch(attemptDir: string): string | null {
  const parent = attemptCgroupParent();
  if (parent === null || !killable) return createAttemptCgroup(attemptDir);
  return path.join(parent, cgroupName(attemptDir));
}

/** Creates cgroup `dir` and its parents; false when this machine does not let us. */
export function makeCgroup(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    return true;
    // Not writable here (a container, no delegation): the answer is false, and the operator uses process groups.
  } catch {
    return false;
  }
}

/** Processes in cgroup `dir` (none when it is gone). */
export function cgroupPids(dir: string): number[] {
  try {
    return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map(Number);
    // The cgroup is gone: it holds no process.
  } catch {
    return [];
  }
}

/** SIGKILLs every process of cgroup `dir` (`cgroup.kill`); nothing when it is gone. */
export function killCgroup(dir: string): void {
  try {
    writeFileSync(path.join(dir, 'cgroup.kill'), '1');
  } catch {
    // Gone, or not a cgroup any more: nothing to kill there.
  }
}

/** Removes cgroup `dir` once it is empty (best effort: a populated cgroup stays as it is); true when it is gone. */
export function removeCgroup(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (error) {
    // Still populated (EBUSY: false, tried again later), or already removed.
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/**
 * The recorded cgroup path of `attemptDir` if it is one `createAttemptCgroup` makes for that
 * folder (inside the cgroup v2 mount, `.../matterstack/<hash of the folder>`); null otherwise: a
 * task that rewrites the marker cannot point the kill at another cgroup.
 */
export function checkedAttemptCgroup(attemptDir: string, recorded: string): string | null {
  const mount = cgroup2Mount();
  if (mount === null) return null;
  const dir = path.resolve(recorded.trim());
  const rel = path.relative(mount, dir);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return null;
  if (path.basename(dir) !== cgroupName(attemptDir) || path.basename(path.dirname(dir)) !== 'matterstack') return null;
  return dir;
}
