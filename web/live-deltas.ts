import type Database from 'better-sqlite3';
import type { StoredEvent } from '../events/envelope.ts';
import {
  countTasksByStatus,
  getLatestCampaignState,
  getRun,
  listAttemptsById,
  listTasksById,
  type AttemptSummaryView,
  type AttemptView,
  type CampaignStateView,
  type RunView,
  type TaskSummaryView,
  type TaskView,
} from '../projections/queries.ts';

/** What the run page draws of a task (its spec, often long, is in the task's own panel). */
export type DagTask = TaskSummaryView;

/** `task` without what the run page does not draw. */
export function dagTask(task: TaskView): DagTask {
  const { spec: _spec, order: _order, updatedAt: _updatedAt, ...shown } = task;
  return shown;
}

/** What the timeline draws of an attempt (results, data and paths are in the task's panel). */
export type TimelineAttempt = AttemptSummaryView;

/** `attempt` as the timeline draws it. */
export function timelineAttempt({ attemptId, taskId, attemptNumber, status, operatorKey, reason, createdAt, submittedAt, endedAt }: AttemptView): TimelineAttempt {
  return { attemptId, taskId, attemptNumber, status, operatorKey, reason, createdAt, submittedAt, endedAt };
}

/** What one run's records (fromSeq, toSeq] touched. */
export interface RunTouches {
  fromSeq: number;
  toSeq: number;
  /** When record toSeq was logged. */
  toTime: string;
  taskIds: Set<string>;
  attemptIds: Set<string>;
  state: boolean;
}

/**
 * A run's change since seq `fromSeq`, as of seq `toSeq` or later: its header and counts, and the
 * current rows (as the DAG and the timeline draw them) of every task and attempt a record in
 * (fromSeq, toSeq] touched. A page showing the run as of a seq in [fromSeq, toSeq) applies it; one
 * at an older seq has missed records and reloads.
 */
export interface RunDelta {
  runId: string;
  fromSeq: number;
  toSeq: number;
  /** When record toSeq was logged. */
  toTime: string;
  run: RunView & { counts: Record<string, number> };
  tasks: DagTask[];
  attempts: TimelineAttempt[];
  /** Present when the campaign state changed. */
  campaignState?: CampaignStateView | null;
}

/** Notes in `touches` (by run) what `event` changed. */
export function noteTouches(touches: Map<string, RunTouches>, event: Pick<StoredEvent, 'runId' | 'seq' | 'time' | 'changes'>): void {
  let run = touches.get(event.runId);
  if (run === undefined) {
    run = { fromSeq: event.seq - 1, toSeq: event.seq, toTime: event.time, taskIds: new Set(), attemptIds: new Set(), state: false };
    touches.set(event.runId, run);
  }
  if (event.seq >= run.toSeq) {
    run.toSeq = event.seq;
    run.toTime = event.time;
  }
  for (const change of event.changes) {
    switch (change.kind) {
      case 'workflow.planned':
        for (const task of change.tasks) run.taskIds.add(task.id);
        break;
      case 'task.status':
        run.taskIds.add(change.taskId);
        break;
      case 'attempt.created':
        run.taskIds.add(change.taskId);
        run.attemptIds.add(change.attemptId);
        break;
      case 'attempt.status':
      case 'attempt.results':
      case 'attempt.decision':
        run.attemptIds.add(change.attemptId);
        break;
      case 'campaign.state':
        run.state = true;
        break;
      default:
        break;
    }
  }
}

/** The deltas of the touched runs, read from projections that are at least as new as every touch. */
export function runDeltas(db: Database.Database, touches: ReadonlyMap<string, RunTouches>): RunDelta[] {
  const deltas: RunDelta[] = [];
  for (const [runId, touched] of touches) {
    const run = getRun(db, runId);
    if (run === undefined) continue;
    const attempts = listAttemptsById(db, runId, [...touched.attemptIds]);
    // An attempt's change shows on its task too (its current attempt, its count).
    const taskIds = new Set([...touched.taskIds, ...attempts.map((a) => a.taskId)]);
    deltas.push({
      runId,
      fromSeq: touched.fromSeq,
      toSeq: touched.toSeq,
      toTime: touched.toTime,
      run: { ...run, counts: countTasksByStatus(db, runId) },
      tasks: listTasksById(db, runId, [...taskIds]),
      attempts,
      ...(touched.state ? { campaignState: getLatestCampaignState(db, runId) } : {}),
    });
  }
  return deltas;
}
