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
 * Shell text that records an attempt's start, in the process that then runs its command, given the
 * attempt's cgroup (or '') as `$cg`: joins the cgroup and records it (the marker is written before
 * the start marker, so a kill that reads it finds it), then records the start marker (pid + /proc
 * start time, against pid reuse). Shell builtins only. The markers are written in place: a reader
 * that finds one empty or cut short takes it as not written yet.
 */
const RECORD_START = `if [ -n "$cg" ]; then
  printf '%s\\n' "$cg" > ${LOCAL_FILES.cgroup} || exit 1
  { printf '%s\\n' "$$" > "$cg/cgroup.procs"; } 2>/dev/null
fi
st=null
field22() { shift 21; st=$1; }
if [ -r /proc/$$/stat ]; then read -r stat < /proc/$$/stat && field22 $stat; fi
printf '{"pid":%s,"procStartTime":%s}\\n' "$$" "$st" > ${LOCAL_FILES.started} || exit 1`;

/**
 * An attempt's start, run by the launcher's child (see process-launcher.ts), which leads its own
 * session, in the attempt folder, as `sh -c ATTEMPT_SCRIPT matterstack-attempt <cgroup or ''> <how> <command...>`,
 * where `how` is `argv` (the command is the program and its arguments: exec'd) or `shell` (the
 * command is one shell command line, run by this same shell as `/bin/sh -c` would run it: with
 * positional parameters, options and this script's variables cleared). It opens the logs and
 * records the start (RECORD_START); the command's exit is recorded by the launcher,
 * its reaper. No task data is ever part of this text: the command comes as arguments.
 */
export const ATTEMPT_SCRIPT = `set -f
exec </dev/null >>${LOCAL_FILES.stdout} 2>>${LOCAL_FILES.stderr} || exit 1
cg=$1; how=$2; shift 2
${RECORD_START}
unset cg st stat; unset -f field22
if [ "$how" = shell ]; then unset how; set +f; eval "set --; $1"; else unset how; exec "$@"; fi
`;

/**
 * The wrapper, for where there is no perl launcher, run by node as `sh -c WRAPPER_SCRIPT
 * matterstack-wrapper <cgroup or ''> <how> <command...>` in the attempt folder once the claim is
 * taken, with `how` as for ATTEMPT_SCRIPT; a shell command line runs in a subshell of the wrapper.
 * It records the start (RECORD_START), runs the command and records its exit code. Before it exits
 * it goes back to the orchestrator's own cgroup (two levels up), so the attempt's is empty when node
 * hears its end and can be removed at once (where the move is refused, it is removed at collect, or
 * later). A dead wrapper with an empty exit code is lost.
 */
export const WRAPPER_SCRIPT = `set -f
cg=$1; how=$2; shift 2
${RECORD_START}
if [ "$how" = shell ]; then (set +f; unset cg how st stat; unset -f field22; eval "set --; $1"); else "$@"; fi
code=$?
printf '%s\\n' "$code" > ${LOCAL_FILES.exitCode}
[ -z "$cg" ] || { printf '%s\\n' "$$" > "\${cg%/*/*}/cgroup.procs"; } 2>/dev/null
exit "$code"
`;
