import { TERMINAL_TASK_STATUSES, type TaskStatus } from '../../events/statuses.ts';
import type { TaskSpec } from '../../events/workflow.ts';
import { anyEndedUncompleted, awaitsDispatch, getTask, tasksAwaitingDispatch, type RunContext, type TaskEntry } from '../run-context.ts';

/** satisfied: may run now; waiting: some dependency is not terminal yet; never: it can never run. */
export type DependencyState = { kind: 'satisfied' } | { kind: 'waiting' } | { kind: 'never'; dependency: string; status: TaskStatus | 'UNKNOWN' };

type StatusOf = (taskId: string) => TaskStatus | undefined;

/**
 * SPEC §3: a dependency is satisfied when COMPLETED, or merely terminal when the task has
 * `allowDependencyFailure`. A dependency that ended otherwise (FAILED, CANCELLED, SKIPPED) means
 * the task can never run — whether that failure was hard or allowed.
 */
export function dependencyState(spec: TaskSpec, statusOf: StatusOf): DependencyState {
  let waiting = false;
  for (const dep of spec.dependencies) {
    const status = statusOf(dep);
    // Workflows are validated before adoption, so an unknown dependency is defensive only.
    if (status === undefined) return { kind: 'never', dependency: dep, status: 'UNKNOWN' };
    if (status === 'COMPLETED') continue;
    if (!TERMINAL_TASK_STATUSES.includes(status)) waiting = true;
    else if (!spec.allowDependencyFailure) return { kind: 'never', dependency: dep, status };
  }
  return waiting ? { kind: 'waiting' } : { kind: 'satisfied' };
}

/** The status lookup over a run context. */
export function statusLookup(ctx: RunContext): StatusOf {
  return (id) => getTask(ctx, id)?.status;
}

/** True when the task may be dispatched now: PENDING, no attempt in flight, dependencies satisfied. */
export function isReady(ctx: RunContext, entry: TaskEntry): boolean {
  return awaitsDispatch(entry) && dependencyState(entry.spec, statusLookup(ctx)).kind === 'satisfied';
}

/** Tasks that can never run and become SKIPPED, transitively, in stable order (SPEC §3, better). */
export function findSkips(ctx: RunContext): { taskId: string; reason: string }[] {
  // Only a dependency that ended without completing makes a task never runnable (workflows are
  // validated: no unknown dependency): none in the run, nothing to look at.
  if (!anyEndedUncompleted(ctx)) return [];
  const skipped = new Map<string, string>();
  const statusOf: StatusOf = (id) => (skipped.has(id) ? 'SKIPPED' : getTask(ctx, id)?.status);
  const waitingForRun = (entry: TaskEntry | undefined): entry is TaskEntry =>
    entry !== undefined && awaitsDispatch(entry) && !skipped.has(entry.spec.id);
  const queue: TaskEntry[] = [...tasksAwaitingDispatch(ctx)];
  // Worklist: a newly skipped task re-examines its dependants, whichever workflow they are in.
  for (let i = 0; i < queue.length; i++) {
    const entry = queue[i] as TaskEntry;
    if (skipped.has(entry.spec.id)) continue;
    const state = dependencyState(entry.spec, statusOf);
    if (state.kind !== 'never') continue;
    skipped.set(entry.spec.id, `dependency ${state.dependency} is ${state.status}`);
    for (const dependant of ctx.dependants[entry.spec.id] ?? []) {
      const next = getTask(ctx, dependant);
      if (waitingForRun(next)) queue.push(next);
    }
  }
  return [...skipped].map(([taskId, reason]) => ({ taskId, reason }));
}
