import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { MARKER_DIR } from './attempt-folder.ts';

/**
 * Files of a local attempt, relative to the attempt folder (the task's cwd). The bookkeeping ones
 * are markers in the marker folder, where the task does not write; the logs are the task's output.
 */
export const LOCAL_FILES = {
  /** Taken (created exclusively) by whoever launches the wrapper: only one launch runs the command. */
  claim: `${MARKER_DIR}/claim`,
  /** Path of the attempt's cgroup, when it runs in one (see attempt-cgroup.ts); written by the wrapper. */
  cgroup: `${MARKER_DIR}/cgroup`,
  started: `${MARKER_DIR}/started.json`,
  exitCode: `${MARKER_DIR}/exit_code`,
  killed: `${MARKER_DIR}/killed.json`,
  /** Written by versions before the launcher (read only for attempts they started). */
  launch: `${MARKER_DIR}/launch.json`,
  stdout: 'stdout.log',
  stderr: 'stderr.log',
} as const;

/**
 * Takes the launch claim of attempt folder `dir` (the claim file, created exclusively); false when
 * it is taken already, by a claim file or by the claim directory of a version before the launcher.
 */
export function takeClaim(dir: string): boolean {
  try {
    closeSync(openSync(path.join(dir, LOCAL_FILES.claim), 'wx'));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/**
 * The wrapper, run as `sh -c WRAPPER_SCRIPT matterstack-wrapper <cgroup or ''> <how> <command...>` in the
 * attempt folder once the launcher took the claim, where `how` is `argv` (the command is the program and
 * its arguments) or `shell` (the command is one shell command line, run as `/bin/sh -c` would run it but
 * in a subshell of the wrapper, which is that same shell: one program fewer to start per task, with
 * positional parameters, options and the wrapper's variables cleared). It records and joins the attempt's cgroup (when
 * there is one; the marker is written before the start marker, so a kill that reads it finds it), records the
 * start marker (pid + /proc start time, against pid reuse), runs the command (given as arguments:
 * no task data is ever part of this text), records its exit code, and tells the launcher's reader
 * on fd 3 when there is one (the command itself runs without it); before that it goes back to the
 * orchestrator's own cgroup (two levels up), so the attempt's is empty when the end is heard and
 * can be removed at once (where the move is refused, it is removed at collect, or later). Shell builtins only: no process
 * but the command's. The markers are written in place: a reader that finds one empty or cut short
 * takes it as not written yet (a dead wrapper with an empty exit code is lost).
 */
export const WRAPPER_SCRIPT = `set -f
cg=$1; how=$2; shift 2
if [ -n "$cg" ]; then
  printf '%s\\n' "$cg" > ${LOCAL_FILES.cgroup}
  { printf '%s\\n' "$$" > "$cg/cgroup.procs"; } 2>/dev/null
fi
st=null
field22() { shift 21; st=$1; }
if [ -r /proc/$$/stat ]; then read -r stat < /proc/$$/stat && field22 $stat; fi
printf '{"pid":%s,"procStartTime":%s}\\n' "$$" "$st" > ${LOCAL_FILES.started}
if [ "$how" = shell ]; then (set +f; unset cg how st stat; unset -f field22; eval "set --; $1") 3>&-; else "$@" 3>&-; fi
code=$?
printf '%s\\n' "$code" > ${LOCAL_FILES.exitCode}
[ -z "$cg" ] || { printf '%s\\n' "$$" > "\${cg%/*/*}/cgroup.procs"; } 2>/dev/null
{ printf 'X %s %s\\n' "$$" "$code" >&3; } 2>/dev/null
exit "$code"
`;
