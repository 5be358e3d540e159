import type { AttemptRow, TaskRow } from './rows.ts';

const SETTLED_TASK = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'SKIPPED']);
const SETTLED_ATTEMPT = new Set(['COMPLETED', 'FAILED', 'FAILED_INIT', 'CANCELLED']);

/** One run's rows carried between the transactions of a rebuild. */
export interface CarriedRun {
  tasks: Map<string, TaskRow>;
  attempts: Map<string, AttemptRow>;
  /** Every id written since the tables were created: an id not here does not exist. */
  knownTasks: Set<string>;
  knownAttempts: Set<string>;
}

/**
 * Rows a rebuild keeps in memory from one transaction to the next. Valid only while the
 * projector is the sole writer of tables it created empty (a rebuild): then a cached row is
 * the stored row, and an id never written needs no SELECT to know it is absent. Only rows
 * that may still change are kept (unfinished tasks and attempts), so memory stays bounded
 * by the run's frontier, not by the log's length.
 */
export class RowCarry {
  private readonly runs = new Map<string, CarriedRun>();

  /** The carried rows of `runId`, created empty. */
  run(runId: string): CarriedRun {
    let carried = this.runs.get(runId);
    if (carried === undefined) {
      carried = { tasks: new Map(), attempts: new Map(), knownTasks: new Set(), knownAttempts: new Set() };
      this.runs.set(runId, carried);
    }
    return carried;
  }

  /** Takes in the rows a transaction just wrote. */
  absorb(runId: string, tasks: Iterable<TaskRow>, attempts: Iterable<AttemptRow>): void {
    const carried = this.run(runId);
    for (const task of tasks) {
      carried.knownTasks.add(task.taskId);
      if (SETTLED_TASK.has(task.status)) carried.tasks.delete(task.taskId);
      else carried.tasks.set(task.taskId, task);
    }
    for (const attempt of attempts) {
      carried.knownAttempts.add(attempt.attemptId);
      if (SETTLED_ATTEMPT.has(attempt.status)) carried.attempts.delete(attempt.attemptId);
      else carried.attempts.set(attempt.attemptId, attempt);
    }
  }
}
