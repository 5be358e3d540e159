import type { TaskSpec } from '../../events/workflow.ts';
import { BUCKET_SIZE, carryDispatchCandidates, GROUP_SIZE, type Bucket, type RunContext } from '../run-context.ts';

/**
 * Why a newly planned workflow cannot be adopted, or null. Task ids are unique within a run;
 * dependencies name tasks of this or earlier workflows; no cycles. A plan returning only
 * existing ids is named as such (the original looped forever on it).
 */
export function checkWorkflow(ctx: RunContext, tasks: readonly TaskSpec[]): string | null {
  const ids = new Set<string>();
  const duplicates: string[] = [];
  const existing: string[] = [];
  for (const task of tasks) {
    if (ids.has(task.id)) duplicates.push(task.id);
    ids.add(task.id);
    if (ctx.taskSlot[task.id] !== undefined) existing.push(task.id);
  }
  if (tasks.length > 0 && existing.length === tasks.length) {
    return `campaign plan returned only already-existing task ids: ${existing.join(', ')}`;
  }
  if (existing.length > 0) return `campaign plan reuses task ids of earlier workflows: ${existing.join(', ')}`;
  if (duplicates.length > 0) return `duplicate task ids in workflow: ${[...new Set(duplicates)].join(', ')}`;
  for (const task of tasks) {
    for (const dep of task.dependencies) {
      if (!ids.has(dep) && ctx.taskSlot[dep] === undefined) return `task ${task.id} depends on unknown task ${dep}`;
    }
  }
  const cycle = findCycle(tasks, ids);
  return cycle === null ? null : `dependency cycle: ${cycle.join(' -> ')}`;
}

function findCycle(tasks: readonly TaskSpec[], ids: Set<string>): string[] | null {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | null => {
    const mark = state.get(id);
    if (mark === 'done') return null;
    if (mark === 'open') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'open');
    path.push(id);
    for (const dep of byId.get(id)?.dependencies ?? []) {
      if (!ids.has(dep)) continue; // earlier workflows cannot close a cycle
      const found = visit(dep);
      if (found !== null) return found;
    }
    path.pop();
    state.set(id, 'done');
    return null;
  };
  for (const task of tasks) {
    const found = visit(task.id);
    if (found !== null) return found;
  }
  return null;
}

/** `ctx` with a checked workflow added: new buckets (appended to the last group, then new groups), slots, dependants. */
export function adoptWorkflow(ctx: RunContext, iteration: number, tasks: readonly TaskSpec[]): RunContext {
  const buckets = ctx.buckets.slice() as Bucket[][];
  const taskSlot = { ...ctx.taskSlot };
  let bucketNumber = buckets.reduce((n, group) => n + group.length, 0);
  for (let start = 0; start < tasks.length; start += BUCKET_SIZE, bucketNumber += 1) {
    const slice = tasks.slice(start, start + BUCKET_SIZE);
    const bucket: Bucket = {
      iteration,
      ids: slice.map((t) => t.id),
      tasks: slice.map((spec) => ({ spec, iteration, status: 'PENDING', attempts: 0, current: null })),
    };
    slice.forEach((spec, index) => {
      taskSlot[spec.id] = bucketNumber * BUCKET_SIZE + index;
    });
    const group = Math.floor(bucketNumber / GROUP_SIZE);
    // The last group is copied before its first new bucket; groups made here are new already.
    if (group === buckets.length) buckets.push([]);
    else if (buckets[group] === ctx.buckets[group]) buckets[group] = buckets[group]!.slice();
    buckets[group]!.push(bucket);
  }
  const dependants = { ...ctx.dependants };
  for (const spec of tasks) {
    for (const dep of spec.dependencies) dependants[dep] = [...(dependants[dep] ?? []), spec.id];
  }
  const next = { ...ctx, buckets, taskSlot, dependants, iteration };
  carryDispatchCandidates(ctx, next, tasks.map((t) => t.id));
  return next;
}
