import type { DomainChange } from '../events/changes.ts';
import { collectedOutcomeOf, type AttemptEvent, type RunEvent } from '../events/run-events.ts';
import type { AttemptContext } from './attempt.machine.ts';
import type { CommandOutcome } from './outgoing.ts';
import { replacedTaskIndexes, type RunContext, type TaskEntry } from './run-context.ts';
import { iterationLimitReason } from './rules/iteration-limit.ts';
import { checkWorkflow } from './rules/workflow-check.ts';

/** The top-level state name of a state value (`{analyze: 'check'}` → `analyze`). */
export function phaseOf(value: unknown): string {
  if (typeof value === 'string') return value;
  const keys = value !== null && typeof value === 'object' ? Object.keys(value) : [];
  return keys[0] ?? '';
}

/**
 * The domain facts of one run transition: deterministic, computed from the event and a diff of
 * the context before/after. Task comparisons go bucket by bucket, by reference (immer's structural sharing),
 * so one report costs one bucket, not the whole run. Attempt facts come from the attempt actors.
 */
export function runChanges(
  prev: RunContext | undefined,
  next: RunContext,
  prevValue: unknown,
  nextValue: unknown,
  event: RunEvent,
  commands: readonly CommandOutcome[],
): DomainChange[] {
  const out: DomainChange[] = [];
  if (event.type === 'RUN.CREATED') out.push({ kind: 'run.created', workspace: next.workspace, maxConcurrent: next.maxConcurrent });
  for (const c of commands) out.push({ kind: 'command', ...c });
  if (prev !== undefined && event.type === 'CAMPAIGN.PLANNED' && prev.awaitingPlan === event.iteration) {
    const adopted = event.workflow === null || (iterationLimitReason(prev, event) === null && checkWorkflow(prev, event.workflow.tasks) === null);
    if (adopted) out.push({ kind: 'campaign.state', iteration: event.iteration, state: event.state });
    if (adopted && event.workflow !== null) out.push({ kind: 'workflow.planned', iteration: event.iteration, tasks: event.workflow.tasks });
  }
  if (prev !== undefined) out.push(...taskChanges(prev, next));
  if (prev === undefined || prev.status !== next.status) {
    out.push({ kind: 'run.status', status: next.status, ...(next.reason !== null ? { reason: next.reason } : {}) });
  }
  if (prevValue === undefined || phaseOf(prevValue) !== phaseOf(nextValue)) {
    out.push({ kind: 'run.phase', phase: phaseOf(nextValue) as Extract<DomainChange, { kind: 'run.phase' }>['phase'] });
  }
  return out;
}

function taskChanges(prev: RunContext, next: RunContext): DomainChange[] {
  const out: DomainChange[] = [];
  if (prev.buckets === next.buckets) return out;
  // Groups and buckets unchanged by reference are skipped whole: a report looks at its own group
  // and bucket only. Groups, and buckets in a group, are in workflow order.
  next.buckets.forEach((groupAfter, g) => {
    const groupBefore = prev.buckets[g];
    if (groupBefore === undefined || groupBefore === groupAfter) return;
    groupAfter.forEach((after, position) => {
      const before = groupBefore[position];
      // A new bucket is a new workflow: `workflow.planned` already says its tasks are PENDING.
      if (before === undefined || before.tasks === after.tasks) return;
      // Only the indexes `withTask` replaced can differ (one for a report); anything else is scanned whole.
      const replaced = replacedTaskIndexes(before.tasks, after.tasks);
      if (replaced !== undefined && replaced.length === 1) {
        taskChange(out, after.ids, replaced[0] as number, before.tasks, after.tasks);
        return;
      }
      const touched = replaced === undefined ? undefined : new Set(replaced);
      for (let index = 0; index < after.ids.length; index++) {
        if (touched === undefined || touched.has(index)) taskChange(out, after.ids, index, before.tasks, after.tasks);
      }
    });
  });
  return out;
}

function taskChange(out: DomainChange[], ids: readonly string[], index: number, before: readonly TaskEntry[], after: readonly TaskEntry[]): void {
  const a = before[index];
  const b = after[index];
  if (a === undefined || b === undefined || a === b || (a.status === b.status && a.reason === b.reason)) return;
  out.push({ kind: 'task.status', taskId: ids[index] as string, status: b.status, ...(b.reason !== undefined ? { reason: b.reason } : {}) });
}

/** The domain facts of one attempt transition: creation, status (with submission data), results. */
export function attemptChanges(prev: AttemptContext | undefined, next: AttemptContext, event: AttemptEvent): DomainChange[] {
  const out: DomainChange[] = [];
  if (prev === undefined) out.push({ kind: 'attempt.created', attemptId: next.attemptId, taskId: next.taskId, operatorKey: next.operatorKey });
  if (prev === undefined || prev.status !== next.status || prev.externalId !== next.externalId) {
    out.push({
      kind: 'attempt.status',
      attemptId: next.attemptId,
      status: next.status,
      ...(next.reason !== undefined ? { reason: next.reason } : {}),
      ...(next.externalId !== undefined ? { externalId: next.externalId } : {}),
      ...(next.operatorData !== undefined ? { operatorData: next.operatorData } : {}),
      ...(next.dir !== undefined ? { dir: next.dir } : {}),
    });
  }
  if (prev !== undefined && next.decision !== undefined && prev.decision !== next.decision) {
    out.push({ kind: 'attempt.decision', attemptId: next.attemptId, ...next.decision });
  }
  const outcome = collectedOutcomeOf(event);
  if (outcome?.type === 'ATTEMPT.RESULTS' && prev !== undefined && prev.files !== next.files) {
    out.push({ kind: 'attempt.results', attemptId: next.attemptId, files: outcome.files, ...(next.data !== undefined ? { data: next.data } : {}) });
  }
  if (outcome?.type === 'ATTEMPT.RESULTS_INVALID' && prev !== undefined && prev.files !== next.files) {
    out.push({ kind: 'attempt.results', attemptId: next.attemptId, files: outcome.files });
  }
  return out;
}
