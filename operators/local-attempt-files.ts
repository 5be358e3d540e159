import { MARKER_DIR } from './attempt-folder.ts';

/**
 * Files of a local attempt, relative to the attempt folder (the task's cwd). The bookkeeping ones
 * are markers in the marker folder, where the task does not write; the logs are the task's output.
 * The launcher (task-launcher.mjs) writes the claim, start and exit markers; the operator the rest.
 */
export const LOCAL_FILES = {
  /** Made (mkdir: exactly one maker) by whoever starts the command, before it starts; its mtime is the launch time. */
  claim: `${MARKER_DIR}/claim`,
  /** Path of the attempt's cgroup, when it runs in one (see attempt-cgroup.ts). */
  cgroup: `${MARKER_DIR}/cgroup`,
  started: `${MARKER_DIR}/started.json`,
  exitCode: `${MARKER_DIR}/exit_code`,
  killed: `${MARKER_DIR}/killed.json`,
  stdout: 'stdout.log',
  stderr: 'stderr.log',
} as const;
