import type { ErrorCode } from '../events/errors.ts';

/** Exit codes scripts can rely on; every MatterStackError code maps to one. */
export const EXIT_CODES: Record<ErrorCode | 'OK' | 'INTERNAL' | 'USAGE', number> = {
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
};
