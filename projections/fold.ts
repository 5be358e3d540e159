import type { DomainChange } from '../events/changes.ts';
import type { StoredEvent } from '../events/envelope.ts';
import type { AttemptStatus } from '../events/statuses.ts';
import { newTaskRow, type AttemptRow, type CampaignStateRow, type CommandRow, type RunRow, type TaskRow } from './rows.ts';

/**
 * Where the fold reads and writes rows. Getters hand out mutable rows and count them as
 * changed; the implementation decides when they reach the database.
 */
export interface FoldTarget {
  /** The run's row, created (as a fresh PENDING row) when the run is new. */
  run(runId: string): RunRow;
  /** The task's row, or undefined when the run has no such task. */
  task(runId: string, taskId: string): TaskRow | undefined;
  /** Stores a new task row. */
  putTask(row: TaskRow): void;
  /** The attempt's row, or undefined when the run has no such attempt. */
  attempt(runId: string, attemptId: string): AttemptRow | undefined;
  /** Stores a new attempt row (replacing one with the same id). */
  putAttempt(row: AttemptRow): void;
  /** Stores the campaign state of an iteration (the latest one of an iteration wins). */
  putCampaignState(row: CampaignStateRow): void;
  /** Records a command fact. */
  putCommand(row: CommandRow): void;
}

// An attempt counts as submitted once it leaves CREATED for a status the operator produced;
// FAILED_INIT and CANCELLED straight from CREATED never reached the operator.
const NOT_SUBMITTED: ReadonlySet<AttemptStatus> = new Set(['CREATED', 'FAILED_INIT', 'CANCELLED']);
const TERMINAL: ReadonlySet<AttemptStatus> = new Set(['COMPLETED', 'FAILED', 'FAILED_INIT', 'CANCELLED']);

/** What the fold reads of a stored event: its place, actor, time and changes (a StoredEvent is one). */
export type FoldEvent = Pick<StoredEvent, 'runId' | 'seq' | 'position' | 'actor' | 'time' | 'changes'>;

/** Folds one stored event (its `changes` and envelope) into the target. Pure apart from the target. */
export function foldEvent(target: FoldTarget, event: FoldEvent): void {
  const run = target.run(event.runId);
  const changes = event.changes;
  for (let i = 0; i < changes.length; i++) foldChange(target, event, run, changes[i]!, i);
  run.updatedAt = event.time;
  run.lastSeq = event.seq;
}

function taskOrNew(target: FoldTarget, runId: string, taskId: string): TaskRow {
  let task = target.task(runId, taskId);
  if (task === undefined) {
    task = newTaskRow(runId, taskId);
    target.putTask(task);
  }
  return task;
}

function foldChange(target: FoldTarget, event: FoldEvent, run: RunRow, change: DomainChange, index: number): void {
  const time = event.time;
  switch (change.kind) {
    case 'run.created':
      run.workspace = change.workspace;
      run.maxConcurrent = change.maxConcurrent;
      run.createdAt = time;
      return;
    case 'run.status':
      run.status = change.status;
      run.statusReason = change.reason ?? null;
      return;
    case 'run.phase':
      run.phase = change.phase;
      return;
    case 'workflow.planned': {
      run.iteration = change.iteration;
      const specs = change.tasks;
      for (let order = 0; order < specs.length; order++) {
        const spec = specs[order]!;
        // A re-planned id keeps its status, attempts and pointer; only its definition changes (SPEC §3).
        const task = taskOrNew(target, event.runId, spec.id);
        task.iteration = change.iteration;
        task.workflowOrder = order;
        task.kind = spec.kind ?? 'compute';
        task.spec = JSON.stringify(spec);
        task.dependencies = JSON.stringify(spec.dependencies ?? []);
        if (spec.operatorKey !== undefined) task.operatorKey = spec.operatorKey;
        task.message = spec.message ?? null;
        task.updatedAt = time;
      }
      return;
    }
    case 'campaign.state':
      target.putCampaignState({
        runId: event.runId,
        iteration: change.iteration,
        state: JSON.stringify(change.state),
        time,
        seq: event.seq,
      });
      return;
    case 'task.status': {
      const task = taskOrNew(target, event.runId, change.taskId);
      task.status = change.status;
      task.statusReason = change.reason ?? null;
      task.updatedAt = time;
      return;
    }
    case 'attempt.created': {
      const task = taskOrNew(target, event.runId, change.taskId);
      task.attemptCount += 1;
      task.currentAttemptId = change.attemptId;
      // The resolved key (routing precedence is the machines' business) replaces the spec's hint.
      task.operatorKey = change.operatorKey;
      task.updatedAt = time;
      target.putAttempt({
        runId: event.runId,
        attemptId: change.attemptId,
        taskId: change.taskId,
        attemptNumber: task.attemptCount,
        operatorKey: change.operatorKey,
        status: 'CREATED',
        reason: null,
        externalId: null,
        operatorData: null,
        dir: null,
        createdAt: time,
        createdSeq: event.seq,
        submittedAt: null,
        endedAt: null,
        resultsFiles: null,
        resultsData: null,
        decision: null,
        updatedAt: time,
      });
      return;
    }
    case 'attempt.status': {
      const attempt = target.attempt(event.runId, change.attemptId);
      // Without attempt.created there is no task to hang it on; the log never produces that.
      if (attempt === undefined) return;
      const status = change.status;
      attempt.status = status;
      attempt.reason = change.reason ?? null;
      if (change.externalId !== undefined) attempt.externalId = change.externalId;
      if (change.operatorData !== undefined) attempt.operatorData = JSON.stringify(change.operatorData);
      if (change.dir !== undefined) attempt.dir = change.dir;
      if (attempt.submittedAt === null && !NOT_SUBMITTED.has(status)) attempt.submittedAt = time;
      if (TERMINAL.has(status)) attempt.endedAt = time;
      attempt.updatedAt = time;
      return;
    }
    case 'attempt.results': {
      const attempt = target.attempt(event.runId, change.attemptId);
      if (attempt === undefined) return;
      attempt.resultsFiles = JSON.stringify(change.files);
      attempt.resultsData = change.data === undefined ? null : JSON.stringify(change.data);
      attempt.updatedAt = time;
      return;
    }
    case 'attempt.decision': {
      const attempt = target.attempt(event.runId, change.attemptId);
      if (attempt === undefined) return;
      const { kind: _kind, attemptId: _attemptId, ...decision } = change;
      attempt.decision = JSON.stringify(decision);
      attempt.updatedAt = time;
      return;
    }
    case 'command':
      target.putCommand({
        runId: event.runId,
        seq: event.seq,
        idx: index,
        verb: change.verb,
        accepted: change.accepted ? 1 : 0,
        code: change.code ?? null,
        reason: change.reason ?? null,
        target: change.target ?? null,
        by: change.by ?? null,
        principal: change.principal ?? null,
        actor: event.actor,
        time,
      });
      return;
  }
}
