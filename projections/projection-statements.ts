import type Database from 'better-sqlite3';

/** The prepared statements the projector runs; prepared once per connection and schema. */
export interface ProjectionStatements {
  selectRun: Database.Statement<[string]>;
  selectTask: Database.Statement<[string, string]>;
  selectAttempt: Database.Statement<[string, string]>;
  upsertRun: Database.Statement<unknown[]>;
  upsertTask: Database.Statement<unknown[]>;
  upsertAttempt: Database.Statement<unknown[]>;
  /** Rebuild only: rows the RowCarry knows are absent (insert) or stored (update, key last). */
  insertTask: Database.Statement<unknown[]>;
  updateTask: Database.Statement<unknown[]>;
  insertAttempt: Database.Statement<unknown[]>;
  updateAttempt: Database.Statement<unknown[]>;
  upsertCampaignState: Database.Statement<unknown[]>;
  upsertCommand: Database.Statement<unknown[]>;
  selectPosition: Database.Statement<[string]>;
  upsertPosition: Database.Statement<[string, number, number | null]>;
}

// Aliases make a selected row the very object the fold mutates, with no mapping step.
const RUN_COLUMNS = `run_id AS runId, workspace, status, status_reason AS statusReason, phase, iteration,
  max_concurrent AS maxConcurrent, created_at AS createdAt, updated_at AS updatedAt, last_seq AS lastSeq`;
const TASK_COLUMNS = `run_id AS runId, task_id AS taskId, iteration, workflow_order AS workflowOrder, kind, spec,
  dependencies, operator_key AS operatorKey, status, status_reason AS statusReason,
  current_attempt_id AS currentAttemptId, attempt_count AS attemptCount, message, updated_at AS updatedAt`;
const ATTEMPT_COLUMNS = `run_id AS runId, attempt_id AS attemptId, task_id AS taskId, attempt_number AS attemptNumber,
  operator_key AS operatorKey, status, reason, external_id AS externalId, operator_data AS operatorData, dir,
  created_at AS createdAt, created_seq AS createdSeq, submitted_at AS submittedAt, ended_at AS endedAt, results_files AS resultsFiles,
  results_data AS resultsData, decision, updated_at AS updatedAt`;

function upsert(table: string, columns: readonly string[], keyCount: number): string {
  const updates = columns.slice(keyCount).map((column) => `${column} = excluded.${column}`);
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})
    ON CONFLICT (${columns.slice(0, keyCount).join(', ')}) DO UPDATE SET ${updates.join(', ')}`;
}

function insert(table: string, columns: readonly string[]): string {
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
}

/** An UPDATE of every non-key column; its parameters are the non-key columns, then the key columns. */
function update(table: string, columns: readonly string[], keyCount: number): string {
  const sets = columns.slice(keyCount).map((column) => `${column} = ?`);
  const where = columns.slice(0, keyCount).map((column) => `${column} = ?`);
  return `UPDATE ${table} SET ${sets.join(', ')} WHERE ${where.join(' AND ')}`;
}

const TASK_COLS = [
  'run_id', 'task_id', 'iteration', 'workflow_order', 'kind', 'spec', 'dependencies', 'operator_key', 'status',
  'status_reason', 'current_attempt_id', 'attempt_count', 'message', 'updated_at',
] as const;
const ATTEMPT_COLS = [
  'run_id', 'attempt_id', 'task_id', 'attempt_number', 'operator_key', 'status', 'reason', 'external_id',
  'operator_data', 'dir', 'created_at', 'created_seq', 'submitted_at', 'ended_at', 'results_files', 'results_data', 'decision', 'updated_at',
] as const;

/** Prepares the projector's statements; the projection tables must exist. */
export function prepareProjectionStatements(db: Database.Database): ProjectionStatements {
  return {
    selectRun: db.prepare(`SELECT ${RUN_COLUMNS} FROM runs WHERE run_id = ?`),
    selectTask: db.prepare(`SELECT ${TASK_COLUMNS} FROM tasks WHERE run_id = ? AND task_id = ?`),
    selectAttempt: db.prepare(`SELECT ${ATTEMPT_COLUMNS} FROM attempts WHERE run_id = ? AND attempt_id = ?`),
    upsertRun: db.prepare(
      upsert(
        'runs',
        ['run_id', 'workspace', 'status', 'status_reason', 'phase', 'iteration', 'max_concurrent', 'created_at', 'updated_at', 'last_seq'],
        1,
      ),
    ),
    upsertTask: db.prepare(
      upsert(
        'tasks',
        [
          'run_id', 'task_id', 'iteration', 'workflow_order', 'kind', 'spec', 'dependencies', 'operator_key', 'status',
          'status_reason', 'current_attempt_id', 'attempt_count', 'message', 'updated_at',
        ],
        2,
      ),
    ),
    upsertAttempt: db.prepare(
      upsert(
        'attempts',
        [
          'run_id', 'attempt_id', 'task_id', 'attempt_number', 'operator_key', 'status', 'reason', 'external_id',
          'operator_data', 'dir', 'created_at', 'created_seq', 'submitted_at', 'ended_at', 'results_files', 'results_data', 'decision', 'updated_at',
        ],
        2,
      ),
    ),
    insertTask: db.prepare(insert('tasks', TASK_COLS)),
    updateTask: db.prepare(update('tasks', TASK_COLS, 2)),
    insertAttempt: db.prepare(insert('attempts', ATTEMPT_COLS)),
    updateAttempt: db.prepare(update('attempts', ATTEMPT_COLS, 2)),
    upsertCampaignState: db.prepare(upsert('campaign_states', ['run_id', 'iteration', 'state', 'time', 'seq'], 2)),
    upsertCommand: db.prepare(
      upsert('commands', ['run_id', 'seq', 'idx', 'verb', 'accepted', 'code', 'reason', 'target', 'by', 'principal', 'actor', 'time'], 3),
    ),
    selectPosition: db.prepare(`SELECT last_seq AS lastSeq, position FROM projection_positions WHERE stream = ?`),
    upsertPosition: db.prepare(upsert('projection_positions', ['stream', 'last_seq', 'position'], 1)) as Database.Statement<
      [string, number, number | null]
    >,
  };
}
