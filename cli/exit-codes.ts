import type { ErrorCode } from '../events/errors.ts';

/** Outcomes of `step`/`loop` that are not errors but that scripts must tell apart. */
export type RunOutcomeExit = 'RUN_FAILED' | 'RUN_CANCELLED' | 'INTERRUPTED' | 'REPLAY_DIVERGED' | 'CANCEL_PENDING' | 'CHECK_FAILED';

/** Exit codes scripts can rely on; every MatterStackError code maps to one. */
export const EXIT_CODES: Record<ErrorCode | 'OK' | 'INTERNAL' | 'USAGE' | RunOutcomeExit, number> = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  VALIDATION_FAILED: 2,
  INVALID_EVENT: 8,
  VERSION_CONFLICT: 5,
  RUN_NOT_FOUND: 3,
  RUN_EXISTS: 4,
  TASK_NOT_FOUND: 3,
  ATTEMPT_NOT_FOUND: 3,
  WORKSPACE_NOT_FOUND: 3,
  INVALID_WORKFLOW: 6,
  INVALID_CONFIG: 6,
  CAMPAIGN_ERROR: 6,
  OPERATOR_ERROR: 7,
  COMMAND_REJECTED: 4,
  LOG_UNAVAILABLE: 7,
  // The log or projections file cannot be read or written (locked, read-only, full, corrupt).
  STORAGE_ERROR: 12,
  CAMPAIGN_TIMEOUT: 6,
  RESULTS_INVALID: 6,
  // step/loop: the run ended, but not well.
  RUN_FAILED: 10,
  RUN_CANCELLED: 11,
  // cancel/cancel-attempt: accepted, but attempts were still stopping when the wait ran out.
  CANCEL_PENDING: 13,
  // check: a simulated scenario of the campaign failed (its story and log are printed).
  CHECK_FAILED: 14,
  // replay --verify: the log and the current machines disagree.
  REPLAY_DIVERGED: 9,
  // Restore re-decided a logged record differently: the run is not hosted by this version (README, Upgrades and history).
  HISTORY_DIVERGED: 9,
  // Ctrl-C: the shell convention (128 + SIGINT).
  INTERRUPTED: 130,
};

/** The exit code of a MatterStackError code (or of a command rejection code; unknown ones → COMMAND_REJECTED). */
export function exitCodeOf(code: string): number {
  return (EXIT_CODES as Record<string, number>)[code] ?? EXIT_CODES.COMMAND_REJECTED;
}
