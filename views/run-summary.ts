import type { LoggedStateValue } from '../events/envelope.ts';
import type { AttemptStatus, RunStatus, TaskStatus } from '../events/statuses.ts';
import { phaseOf } from '../machines/changes.ts';
import type { RunSystem } from '../machines/system.ts';
import { tasksInOrder } from '../machines/run-context.ts';

/** One task as the run actor sees it. */
export interface TaskSummary {
  id: string;
  iteration: number;
  status: TaskStatus;
  reason?: string;
  attempts: number;
  currentAttempt: string | null;
}

/** The run actor's state, summarised for people (not the whole context). */
export interface RunSummary {
  state: LoggedStateValue;
  status: RunStatus;
  phase: string;
  iteration: number;
  reason: string | null;
  maxConcurrent: number | null;
  tasks: TaskSummary[];
  /** Attempts occupying a slot. */
  active: { attemptId: string; taskId: string; operatorKey: string }[];
}

/** One attempt actor's state. */
export interface AttemptSummary {
  attemptId: string;
  taskId: string;
  operatorKey: string;
  state: LoggedStateValue;
  status: AttemptStatus;
  reason?: string;
  externalId?: string;
  dir?: string;
}

/** The run and its attempts as a folded system shows them (the state after some record). */
export interface SystemSummary {
  run: RunSummary | null;
  attempts: Record<string, AttemptSummary>;
}

/** Summarises a folded system: run status, tasks with statuses, active attempts, every attempt actor. */
export function summarizeSystem(system: RunSystem): SystemSummary {
  const attempts: Record<string, AttemptSummary> = {};
  for (const [id, snapshot] of [...system.attempts].sort(([a], [b]) => a.localeCompare(b))) {
    const c = snapshot.context;
    attempts[id] = {
      attemptId: c.attemptId,
      taskId: c.taskId,
      operatorKey: c.operatorKey,
      state: snapshot.value as LoggedStateValue,
      status: c.status,
      ...(c.reason !== undefined ? { reason: c.reason } : {}),
      ...(c.externalId !== undefined ? { externalId: c.externalId } : {}),
      ...(c.dir !== undefined ? { dir: c.dir } : {}),
    };
  }
  const snapshot = system.run;
  if (snapshot === undefined) return { run: null, attempts };
  const ctx = snapshot.context;
  const tasks: TaskSummary[] = [];
  for (const entry of tasksInOrder(ctx)) {
    tasks.push({
      id: entry.spec.id,
      iteration: entry.iteration,
      status: entry.status,
      ...(entry.reason !== undefined ? { reason: entry.reason } : {}),
      attempts: entry.attempts,
      currentAttempt: entry.current?.id ?? null,
    });
  }
  const active = Object.entries(ctx.active)
    .map(([attemptId, a]) => ({ attemptId, taskId: a.taskId, operatorKey: a.operatorKey }))
    .sort((a, b) => a.attemptId.localeCompare(b.attemptId));
  return {
    run: {
      state: snapshot.value as LoggedStateValue,
      status: ctx.status,
      phase: phaseOf(snapshot.value),
      iteration: ctx.iteration,
      reason: ctx.reason,
      maxConcurrent: ctx.maxConcurrent,
      tasks,
      active,
    },
    attempts,
  };
}
