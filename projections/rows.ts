/**
 * In-memory shapes of the projection rows while a batch is folded. Field names mirror the
 * columns (camelCase); JSON columns are kept as their serialised text so a row is written
 * back without re-serialising what the batch did not touch.
 */

/** A `runs` row. */
export interface RunRow {
  runId: string;
  workspace: string | null;
  status: string;
  statusReason: string | null;
  phase: string | null;
  iteration: number | null;
  maxConcurrent: number | null;
  createdAt: string | null;
  updatedAt: string | null;
  lastSeq: number;
}

/** A `tasks` row. */
export interface TaskRow {
  runId: string;
  taskId: string;
  iteration: number | null;
  workflowOrder: number | null;
  kind: string | null;
  spec: string | null;
  dependencies: string;
  operatorKey: string | null;
  status: string;
  statusReason: string | null;
  currentAttemptId: string | null;
  attemptCount: number;
  message: string | null;
  updatedAt: string | null;
}

/** An `attempts` row. */
export interface AttemptRow {
  runId: string;
  attemptId: string;
  taskId: string;
  attemptNumber: number;
  operatorKey: string;
  status: string;
  reason: string | null;
  externalId: string | null;
  operatorData: string | null;
  dir: string | null;
  createdAt: string;
  /** The run sequence of the record that created it: "oldest first" without clock ties. */
  createdSeq: number;
  submittedAt: string | null;
  endedAt: string | null;
  resultsFiles: string | null;
  resultsData: string | null;
  /** A gate's decision (JSON: verb, by, comment, data), null for any other attempt. */
  decision: string | null;
  updatedAt: string;
}

/** A `campaign_states` row. */
export interface CampaignStateRow {
  runId: string;
  iteration: number;
  state: string;
  time: string;
  seq: number;
}

/** A `commands` row (`idx` orders several command facts of one record). */
export interface CommandRow {
  runId: string;
  seq: number;
  idx: number;
  verb: string;
  accepted: number;
  code: string | null;
  reason: string | null;
  target: string | null;
  by: string | null;
  principal: string | null;
  actor: string;
  time: string;
}

/** A fresh run row for a run seen for the first time (before or without `run.created`). */
export function newRunRow(runId: string): RunRow {
  return {
    runId,
    workspace: null,
    status: 'PENDING',
    statusReason: null,
    phase: 'pending',
    iteration: null,
    maxConcurrent: null,
    createdAt: null,
    updatedAt: null,
    lastSeq: 0,
  };
}

/** A fresh task row: PENDING, no attempt; the definition columns are filled by `workflow.planned`. */
export function newTaskRow(runId: string, taskId: string): TaskRow {
  return {
    runId,
    taskId,
    iteration: null,
    workflowOrder: null,
    kind: null,
    spec: null,
    dependencies: '[]',
    operatorKey: null,
    status: 'PENDING',
    statusReason: null,
    currentAttemptId: null,
    attemptCount: 0,
    message: null,
    updatedAt: null,
  };
}
