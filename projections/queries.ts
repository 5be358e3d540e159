import type Database from 'better-sqlite3';
import type { JsonValue } from '../events/json.ts';
import { ACTIVE_RUN_STATUSES, type AttemptStatus, type RunPhase, type RunStatus, type TaskStatus } from '../events/statuses.ts';
import type { TaskSpec } from '../events/workflow.ts';

/** A run as the `list` and `status` views show it. */
export interface RunView {
  runId: string;
  workspace: string | null;
  status: RunStatus;
  statusReason: string | null;
  phase: RunPhase | null;
  iteration: number | null;
  maxConcurrent: number | null;
  createdAt: string | null;
  updatedAt: string | null;
  lastSeq: number;
}

/** A task as the `status` and `explain` views show it (`attempts` is the attempt count, SPEC §6). */
export interface TaskView {
  id: string;
  status: TaskStatus;
  statusReason: string | null;
  operatorKey: string | null;
  attempts: number;
  currentAttemptId: string | null;
  iteration: number | null;
  order: number | null;
  kind: TaskSpec['kind'] | null;
  dependencies: string[];
  /** Gate tasks: the question shown to the approver. */
  message: string | null;
  spec: TaskSpec | null;
  updatedAt: string | null;
}

/** An attempt as the `attempts` view and the evidence bundle show it. */
export interface AttemptView {
  attemptId: string;
  taskId: string;
  attemptNumber: number;
  status: AttemptStatus;
  operatorKey: string;
  externalId: string | null;
  /** As the operator reported it; the CLI makes it absolute against the run root. */
  dir: string | null;
  reason: string | null;
  operatorData: Record<string, JsonValue> | null;
  createdAt: string;
  submittedAt: string | null;
  endedAt: string | null;
  results: { files: Record<string, string>; data: JsonValue | null } | null;
  /** A gate attempt's decision (approve / reject with who, comment and data), else null. */
  decision: GateDecisionView | null;
}

/** An approve or reject as the log keeps it. */
export interface GateDecisionView {
  verb: 'approved' | 'rejected';
  by?: string;
  principal?: string;
  comment?: string;
  data?: JsonValue;
}

/** The campaign state recorded for one iteration. */
export interface CampaignStateView {
  iteration: number;
  state: JsonValue;
  time: string;
  seq: number;
}

/** A command fact: what was asked, and whether it was accepted. */
export interface CommandView {
  seq: number;
  verb: string;
  accepted: boolean;
  code: string | null;
  reason: string | null;
  target: string | null;
  by: string | null;
  /** Who the transport authenticated (NATS user, OS account); null in records older than it. */
  principal: string | null;
  actor: string;
  time: string;
}

/** The `status --json` shape (SPEC §6) plus counts per task status. */
export interface RunStatusView extends RunView {
  tasks: TaskView[];
  counts: Partial<Record<TaskStatus, number>>;
  /** What the campaign's last `analyze` returned (null before it first did); only when asked for (`withState`). */
  campaignState?: CampaignStateView | null;
}

const RUN_SELECT = `SELECT run_id AS runId, workspace, status, status_reason AS statusReason, phase, iteration,
  max_concurrent AS maxConcurrent, created_at AS createdAt, updated_at AS updatedAt, last_seq AS lastSeq FROM runs`;

// Prepared once per connection: the CLI's monitor calls these in a loop.
const cache = new WeakMap<Database.Database, Map<string, Database.Statement>>();
function statement(db: Database.Database, sql: string): Database.Statement {
  let statements = cache.get(db);
  if (statements === undefined) {
    statements = new Map();
    cache.set(db, statements);
  }
  let prepared = statements.get(sql);
  if (prepared === undefined) {
    prepared = db.prepare(sql);
    statements.set(sql, prepared);
  }
  return prepared;
}

function parse<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

/** The run's row, or undefined when the projections have never seen it. */
export function getRun(db: Database.Database, runId: string): RunView | undefined {
  return statement(db, `${RUN_SELECT} WHERE run_id = ?`).get(runId) as RunView | undefined;
}

/** Which runs `listRuns` returns, and in what order. */
export interface ListRunsOptions {
  /** Every status (ignored when `statuses` is given); default: only PENDING, RUNNING, PAUSED. */
  all?: boolean;
  /** Only runs in one of these statuses. */
  statuses?: readonly RunStatus[];
  /** Only runs of this workspace slug. */
  workspace?: string;
  /** Only runs whose latest record is at or after this instant. */
  since?: Date;
  /** `id` (default): by run id, so creation order; `activity`: latest record first. */
  order?: 'id' | 'activity';
}

/** Runs filtered by status, workspace and last activity (the time of their latest record), ordered as asked. */
export function listRuns(db: Database.Database, options: ListRunsOptions = {}): RunView[] {
  const statuses = options.statuses ?? (options.all ? null : ACTIVE_RUN_STATUSES);
  if (statuses !== null && statuses.length === 0) return [];
  let runs = (
    statuses === null
      ? statement(db, `${RUN_SELECT} ORDER BY run_id`).all()
      : statement(db, `${RUN_SELECT} WHERE status IN (${statuses.map(() => '?').join(', ')}) ORDER BY run_id`).all(...statuses)
  ) as RunView[];
  if (options.workspace !== undefined) runs = runs.filter((run) => run.workspace === options.workspace);
  const since = options.since?.getTime();
  if (since !== undefined) runs = runs.filter((run) => activityOf(run) >= since);
  // Stable sort: runs with the same last activity stay in id order.
  if (options.order === 'activity') runs.sort((a, b) => activityOf(b) - activityOf(a));
  return runs;
}

// Parsed rather than compared as text: a log's times may carry any UTC offset.
function activityOf(run: RunView): number {
  return run.updatedAt === null ? Number.NEGATIVE_INFINITY : Date.parse(run.updatedAt);
}

/** A task row as selected: the view's fields, with the dependencies and the spec still JSON text. */
type TaskRecord = Omit<TaskView, 'dependencies' | 'spec'> & { dependencies: string; spec: string | null };

const TASK_SELECT = `SELECT task_id AS id, status, status_reason AS statusReason, operator_key AS operatorKey, attempt_count AS attempts,
  current_attempt_id AS currentAttemptId, iteration, workflow_order AS "order", kind, dependencies, message, spec,
  updated_at AS updatedAt FROM tasks`;

function taskView(row: TaskRecord): TaskView {
  return { ...row, dependencies: JSON.parse(row.dependencies) as string[], spec: parse<TaskSpec>(row.spec) };
}

/** The run's tasks in workflow order (iteration, then position in its workflow). */
export function listTasks(db: Database.Database, runId: string): TaskView[] {
  const rows = statement(db, `${TASK_SELECT} WHERE run_id = ? ORDER BY iteration, workflow_order, task_id`).all(runId) as TaskRecord[];
  return rows.map(taskView);
}

/** A task without its spec, order and update time: what a run's page draws of it. */
export type TaskSummaryView = Omit<TaskView, 'spec' | 'order' | 'updatedAt'>;

/**
 * The run's tasks among `taskIds` (unknown ids are left out), in workflow order, without their specs:
 * the live feed reads thousands at once during a fan-out, and parsing each spec only to drop it was
 * most of that read.
 */
export function listTasksById(db: Database.Database, runId: string, taskIds: readonly string[]): TaskSummaryView[] {
  const rows = statement(
    db,
    `SELECT task_id AS id, status, status_reason AS statusReason, operator_key AS operatorKey, attempt_count AS attempts,
      current_attempt_id AS currentAttemptId, iteration, kind, dependencies, message FROM tasks
      WHERE run_id = ? AND task_id IN (SELECT value FROM json_each(?)) ORDER BY iteration, workflow_order, task_id`,
  ).all(runId, JSON.stringify(taskIds)) as (Omit<TaskSummaryView, 'dependencies'> & { dependencies: string })[];
  return rows.map((row) => ({ ...row, dependencies: JSON.parse(row.dependencies) as string[] }));
}

/** How many of the run's tasks are in each status. */
export function countTasksByStatus(db: Database.Database, runId: string): Partial<Record<TaskStatus, number>> {
  const rows = statement(db, 'SELECT status, COUNT(*) AS n FROM tasks WHERE run_id = ? GROUP BY status').all(runId) as { status: TaskStatus; n: number }[];
  return Object.fromEntries(rows.map((row) => [row.status, row.n]));
}

/**
 * The run with its tasks and counts per task status, or undefined when unknown (the `status` view).
 * `withState` adds the latest campaign state (left out by default: monitors poll this and a state may be large).
 */
export function getRunStatus(db: Database.Database, runId: string, options: { withState?: boolean } = {}): RunStatusView | undefined {
  const run = getRun(db, runId);
  if (run === undefined) return undefined;
  const tasks = listTasks(db, runId);
  const counts: Partial<Record<TaskStatus, number>> = {};
  for (const task of tasks) counts[task.status] = (counts[task.status] ?? 0) + 1;
  return { ...run, tasks, counts, ...(options.withState === true ? { campaignState: getLatestCampaignState(db, runId) } : {}) };
}

interface AttemptRecord {
  attemptId: string;
  taskId: string;
  attemptNumber: number;
  status: AttemptStatus;
  operatorKey: string;
  externalId: string | null;
  dir: string | null;
  reason: string | null;
  operatorData: string | null;
  createdAt: string;
  submittedAt: string | null;
  endedAt: string | null;
  resultsFiles: string | null;
  resultsData: string | null;
  decision: string | null;
}

const ATTEMPT_SELECT = `SELECT attempt_id AS attemptId, task_id AS taskId, attempt_number AS attemptNumber, status,
  operator_key AS operatorKey, external_id AS externalId, dir, reason, operator_data AS operatorData,
  created_at AS createdAt, submitted_at AS submittedAt, ended_at AS endedAt, results_files AS resultsFiles,
  results_data AS resultsData, decision FROM attempts`;

function attemptView({ resultsFiles, resultsData, operatorData, decision, ...rest }: AttemptRecord): AttemptView {
  return {
    ...rest,
    operatorData: parse<Record<string, JsonValue>>(operatorData),
    decision: parse<GateDecisionView>(decision),
    results:
      resultsFiles === null ? null : { files: JSON.parse(resultsFiles) as Record<string, string>, data: parse<JsonValue>(resultsData) },
  };
}

/** The run's attempts, oldest first; only those of `taskId` when given. */
export function listAttempts(db: Database.Database, runId: string, taskId?: string): AttemptView[] {
  // Oldest first by the sequence of the creating record: clocks can tie, sequences cannot.
  const rows = (
    taskId === undefined
      ? statement(db, `${ATTEMPT_SELECT} WHERE run_id = ? ORDER BY created_seq, attempt_id`).all(runId)
      : statement(db, `${ATTEMPT_SELECT} WHERE run_id = ? AND task_id = ? ORDER BY attempt_number`).all(runId, taskId)
  ) as AttemptRecord[];
  return rows.map(attemptView);
}

/** An attempt without its results, decision and operator data: what a timeline draws of it. */
export type AttemptSummaryView = Pick<AttemptView, 'attemptId' | 'taskId' | 'attemptNumber' | 'status' | 'operatorKey' | 'reason' | 'createdAt' | 'submittedAt' | 'endedAt'>;

/** The run's attempts among `attemptIds` (unknown ids are left out), oldest first, without the results, decision and operator data nothing live draws. */
export function listAttemptsById(db: Database.Database, runId: string, attemptIds: readonly string[]): AttemptSummaryView[] {
  return statement(
    db,
    `SELECT attempt_id AS attemptId, task_id AS taskId, attempt_number AS attemptNumber, status, operator_key AS operatorKey, reason,
      created_at AS createdAt, submitted_at AS submittedAt, ended_at AS endedAt FROM attempts
      WHERE run_id = ? AND attempt_id IN (SELECT value FROM json_each(?)) ORDER BY created_seq, attempt_id`,
  ).all(runId, JSON.stringify(attemptIds)) as AttemptSummaryView[];
}

/** The campaign state recorded for each iteration of the run, by iteration. */
export function getCampaignStates(db: Database.Database, runId: string): CampaignStateView[] {
  const rows = statement(
    db,
    'SELECT iteration, state, time, seq FROM campaign_states WHERE run_id = ? ORDER BY iteration',
  ).all(runId) as { iteration: number; state: string; time: string; seq: number }[];
  return rows.map((row) => ({ ...row, state: JSON.parse(row.state) as JsonValue }));
}

/** The state the campaign's last `analyze` returned (its latest iteration), or null before the first plan. */
export function getLatestCampaignState(db: Database.Database, runId: string): CampaignStateView | null {
  const row = statement(db, 'SELECT iteration, state, time, seq FROM campaign_states WHERE run_id = ? ORDER BY iteration DESC LIMIT 1').get(runId) as
    | { iteration: number; state: string; time: string; seq: number }
    | undefined;
  return row === undefined ? null : { ...row, state: JSON.parse(row.state) as JsonValue };
}

/** Every command asked of the run, accepted or rejected, in log order. */
export function listCommands(db: Database.Database, runId: string): CommandView[] {
  const rows = statement(
    db,
    `SELECT seq, verb, accepted, code, reason, target, by, principal, actor, time FROM commands WHERE run_id = ? ORDER BY seq, idx`,
  ).all(runId) as (Omit<CommandView, 'accepted'> & { accepted: number })[];
  return rows.map((row) => ({ ...row, accepted: row.accepted === 1 }));
}
