import type { JsonObject, JsonValue } from '../events/json.ts';
import { rootLogger, type Logger } from '../events/logger.ts';
import type { AttemptStatus } from '../events/statuses.ts';
import type { TaskSpec } from '../events/workflow.ts';
import type { OperatorEntry } from '../workspace/operators-config.ts';
import type { AttemptLogFiles, LogStream } from './attempt-log.ts';

/** The attempt an operator call is about. */
export interface AttemptRef {
  attemptId: string;
  taskId: string;
  /** Absolute attempt directory (`runs/<runId>/attempts/<taskId>/<attemptId>`). */
  dir: string;
}

/** Everything an operator needs for one call; operators keep no other state that matters. */
export interface OperatorContext {
  runId: string;
  attempt: AttemptRef;
  task: TaskSpec;
  /** Absolute workspace directory: `{source}` files must stay inside it. */
  workspaceDir: string;
  /** Absolute run directory. */
  runDir: string;
  operatorKey: string;
  /** The operator's entry from operators.yaml (or the built-in default). */
  config: OperatorEntry;
  /** Logger carrying the run id, the operator key and the attempt id (the effect runner sets it; `operatorLog` gives one when absent). */
  log?: Logger;
}

/** The context's logger, or the process's with the same ids (contexts built outside the effect runner have none). */
export function operatorLog(ctx: Pick<OperatorContext, 'runId' | 'attempt' | 'operatorKey' | 'log'>): Logger {
  return ctx.log ?? rootLogger().child({ runId: ctx.runId, operator: ctx.operatorKey, attemptId: ctx.attempt.attemptId });
}

/** Statuses `submit` may report: the operator accepted the work. */
export type SubmitStatus = Extract<AttemptStatus, 'SUBMITTED' | 'RUNNING' | 'WAITING_EXTERNAL'>;

export interface SubmitResult {
  /** pid, Slurm job id, attempt id for file hand-offs... */
  externalId: string;
  status: SubmitStatus;
  operatorData?: JsonObject;
}

/** The operator's view of an attempt's status; `reason` explains failures and cancellations. */
export interface PollResult {
  status: AttemptStatus;
  reason?: string;
}

export interface CollectedResults {
  /** Output path relative to the attempt directory → absolute path. */
  files: Record<string, string>;
  /** Structured output (results.json, response data...). */
  data?: JsonValue;
  /** Why the results cannot be taken (e.g. an invalid results.json): the attempt fails with it. */
  reason?: string;
}

/** Stops a `watch`. */
export type Unsubscribe = () => void;

/**
 * Executes task attempts (SPEC §2). Every method is idempotent by attempt id: after an
 * orchestrator crash the host re-issues calls and the operator recognises work already done.
 */
export interface Operator {
  /** The kind this operator implements (`local`, `human`...). */
  readonly kind: string;
  /** Creates the attempt directory, stages files, writes `manifest.json`. */
  prepare(ctx: OperatorContext): Promise<void>;
  /** Starts the work (or re-adopts work already started for this attempt). */
  submit(ctx: OperatorContext): Promise<SubmitResult>;
  /** The attempt's current status. */
  poll(ctx: OperatorContext): Promise<PollResult>;
  /** Output files and data; called on COMPLETED and on FAILED. */
  collectResults(ctx: OperatorContext): Promise<CollectedResults>;
  /** Stops the work; resolves with the resulting status (CANCELLED, or terminal if it had already ended). */
  cancel(ctx: OperatorContext): Promise<PollResult>;
  /**
   * Push channel: calls `onChange` with the current status right away and then whenever it
   * changes, until unsubscribed. Operators without one are polled by the host.
   */
  watch?(ctx: OperatorContext, onChange: (result: PollResult) => void): Unsubscribe;
  /** Where the attempt's stdout / stderr are kept; operators that run no process (gates, hand-offs) have none. */
  logFiles?(ctx: Pick<OperatorContext, 'runId' | 'attempt'>, stream: LogStream): AttemptLogFiles;
}

/** Terminal statuses an operator can report. */
export const TERMINAL_POLL_STATUSES: readonly AttemptStatus[] = ['COMPLETED', 'FAILED', 'FAILED_INIT', 'CANCELLED'];

/** True once the attempt will not change any more. */
export function isTerminalPoll(result: PollResult): boolean {
  return TERMINAL_POLL_STATUSES.includes(result.status);
}
