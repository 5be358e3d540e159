import type { RunStatus } from '../events/statuses.ts';
import { EXIT_CODES } from './exit-codes.ts';

/** Exit code for a run's status after step/loop: 0 unless it ended FAILED (10) or CANCELLED (11). */
export function exitCodeForStatus(status: RunStatus): number {
  if (status === 'FAILED') return EXIT_CODES.RUN_FAILED;
  if (status === 'CANCELLED') return EXIT_CODES.RUN_CANCELLED;
  return EXIT_CODES.OK;
}

/** The worst outcome of several runs (FAILED over CANCELLED over the rest). */
export function exitCodeForStatuses(statuses: Iterable<RunStatus>): number {
  let code: number = EXIT_CODES.OK;
  for (const status of statuses) {
    const next = exitCodeForStatus(status);
    if (next === EXIT_CODES.RUN_FAILED || (next === EXIT_CODES.RUN_CANCELLED && code === EXIT_CODES.OK)) code = next;
  }
  return code;
}

/** The exit-code note of step and loop help. */
export const RUN_OUTCOME_NOTE = 'Exit code: 0 when the run COMPLETED (or, for step, is still going), 10 when it ended FAILED,\n11 when CANCELLED, 130 when stopped with Ctrl-C (the run is left as it is and can be resumed).';
