/** Stable error codes: the CLI maps them to exit codes and NATS replies carry them verbatim. */
export const ERROR_CODES = [
  'VALIDATION_FAILED',
  'INVALID_EVENT',
  'VERSION_CONFLICT',
  'RUN_NOT_FOUND',
  'RUN_EXISTS',
  'TASK_NOT_FOUND',
  'ATTEMPT_NOT_FOUND',
  'WORKSPACE_NOT_FOUND',
  'INVALID_WORKFLOW',
  'INVALID_CONFIG',
  'CAMPAIGN_ERROR',
  'OPERATOR_ERROR',
  'COMMAND_REJECTED',
  'LOG_UNAVAILABLE',
  'STORAGE_ERROR',
  'CAMPAIGN_TIMEOUT',
  'RESULTS_INVALID',
  'HISTORY_DIVERGED',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Base of every error MatterStack raises on purpose; discriminate by `code`, not by class. */
export class MatterStackError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MatterStackError';
    this.code = code;
    this.details = details;
  }

  /** The `{code, message}` shape used in CLI `--json` output and NATS replies. */
  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** Raised when an append's expected sequence is stale; nothing was written. */
export class VersionConflictError extends MatterStackError {
  constructor(runId: string, expectedSeq: number, actualSeq: number) {
    super('VERSION_CONFLICT', `run ${runId}: expected last sequence ${expectedSeq} but the log is at ${actualSeq}`, {
      runId,
      expectedSeq,
      actualSeq,
    });
    this.name = 'VersionConflictError';
  }
}

/** True when `error` is a MatterStackError (optionally of the given code), across package copies. */
export function isMatterStackError(error: unknown, code?: ErrorCode): error is MatterStackError {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { code?: unknown; name?: unknown };
  if (typeof candidate.code !== 'string' || !(ERROR_CODES as readonly string[]).includes(candidate.code)) return false;
  return code === undefined || candidate.code === code;
}

/** The message of any thrown value (errors keep theirs; anything else is stringified). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
