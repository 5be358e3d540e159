import { attemptIdFor } from '../../events/ids.ts';
import type { TaskSpec } from '../../events/workflow.ts';
import { dispatchCandidates, dropDispatchCandidates, taskAtSlot, type RunContext, type TaskEntry } from '../run-context.ts';
import { resolveOperator } from './operator-key.ts';
import { isReady } from './readiness.ts';
import { slotsOf } from '../slot-set.ts';
import { slotCounter, type SlotCounter } from './slots.ts';

/** One attempt the execute phase creates; `initError` set = born FAILED_INIT (no operator for it). */
export interface Dispatch {
  taskId: string;
  attemptId: string;
  operatorKey: string;
  task: TaskSpec;
  initError?: string;
}

/**
 * The attempts to create this cycle: ready tasks in stable (workflow) order while the global cap
 * has room; a task whose operator is at its own cap waits while later tasks of other operators
 * go ahead. A task with no configured operator fails at once and takes no slot. Only the dispatch
 * candidates are looked at (every ready task is one): blocked tasks cost nothing until a
 * dependency ends; those found blocked here are dropped from the candidates until then.
 */
export function planDispatch(ctx: RunContext): Dispatch[] {
  const slots = slotCounter(ctx);
  const out: Dispatch[] = [];
  const blocked: number[] = [];
  for (const slot of slotsOf(dispatchCandidates(ctx))) {
    if (!slots.globalFree()) break;
    const entry = taskAtSlot(ctx, slot) as TaskEntry;
    if (isReady(ctx, entry)) dispatchReady(ctx, entry, slots, out);
    else blocked.push(slot);
  }
  dropDispatchCandidates(ctx, blocked);
  return out;
}

/**
 * Dispatches one ready task into `out` when its operator has room (taking the slot); a task with
 * no configured operator is dispatched to fail at once and takes no slot.
 */
export function dispatchReady(ctx: RunContext, entry: TaskEntry, slots: SlotCounter, out: Dispatch[]): void {
  const taskId = entry.spec.id;
  const attemptId = attemptIdFor(taskId, entry.attempts + 1);
  const route = resolveOperator(entry.spec, ctx, ctx.configuredOperators);
  if (!route.ok) {
    out.push({ taskId, attemptId, operatorKey: route.key, task: entry.spec, initError: route.reason });
    return;
  }
  if (!slots.operatorFree(route.key)) return;
  slots.take(route.key);
  out.push({ taskId, attemptId, operatorKey: route.key, task: entry.spec });
}
