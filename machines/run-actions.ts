import { issuerText, type AttemptReport, type CampaignPlanned, type RunCommand, type RunCreated } from '../events/run-events.ts';
import { isActiveAttemptStatus, taskStatusOfAttempt, type RunStatus } from '../events/statuses.ts';
import { activeWith, activeWithout, emptyActive } from './active-attempts.ts';
import { produce } from './immer.ts';
import type { Message } from './outgoing.ts';
import { carryDispatchCandidates, DEFAULT_MAX_CONCURRENT, draftTask, getTask, withTask, withTasks, type RunContext, type TaskEntry } from './run-context.ts';
import { activeAttemptIds, recordDecision, rerunSet, resetTask, reviveSet } from './rules/commands.ts';
import type { Dispatch } from './rules/dispatch.ts';
import { checkOperatorKey } from '../events/operator-key.ts';
import { findSkips } from './rules/readiness.ts';
import { adoptWorkflow } from './rules/workflow-check.ts';
import { retryReason, shouldRetry } from './rules/retry.ts';

/** The context of a new run, from RUN.CREATED; it awaits the first plan (iteration 0). */
export function initialRunContext(input: RunCreated): RunContext {
  // Configured keys are normalised like task keys so `Local` in a config matches `local.default`.
  const norm = (key: string): string => checkOperatorKey(key).key;
  const operatorCaps: Record<string, number | null> = {};
  for (const [key, cap] of Object.entries(input.operatorCaps ?? {})) operatorCaps[norm(key)] = cap;
  const configured = [...new Set([...(input.configuredOperators ?? []), ...Object.keys(input.operatorCaps ?? {})].map(norm))].sort();
  return {
    workspace: input.workspace,
    status: 'PENDING',
    reason: null,
    iteration: -1,
    campaignState: null,
    awaitingPlan: 0,
    maxConcurrent: input.maxConcurrent === undefined ? DEFAULT_MAX_CONCURRENT : input.maxConcurrent,
    operatorCaps,
    configuredOperators: configured,
    ...(input.envOperator !== undefined ? { envOperator: input.envOperator } : {}),
    ...(input.maxIterations !== undefined ? { maxIterations: input.maxIterations } : {}),
    defaultOperator: input.defaultOperator ?? 'local.default',
    buckets: [],
    taskSlot: {},
    dependants: {},
    active: emptyActive(),
  };
}

/** Sets the run status (and clears the reason when it leaves a terminal status). */
export function withStatus(ctx: RunContext, status: RunStatus): RunContext {
  if (ctx.status === status) return ctx;
  const leavingTerminal = status === 'RUNNING' || status === 'PAUSED';
  return { ...ctx, status, reason: leavingTerminal ? null : ctx.reason };
}

/** Adopts CAMPAIGN.PLANNED (checked before): the campaign state and, if any, the new workflow. */
export function adoptPlan(ctx: RunContext, event: CampaignPlanned): RunContext {
  const next: RunContext = { ...ctx, awaitingPlan: null, campaignState: event.state };
  return event.workflow === null ? next : adoptWorkflow(next, event.iteration, event.workflow.tasks);
}

/** Follows an attempt's reported status: the task's status is its current attempt's. */
export function trackReport(ctx: RunContext, event: AttemptReport): RunContext {
  const before = getTask(ctx, event.taskId);
  if (before === undefined) throw new Error(`internal: unknown task ${event.taskId}`);
  if (before.current === null) return ctx;
  const retrying = ctx.status !== 'CANCELLED' && shouldRetry(before, event.status, event.reason);
  // Copy-on-write by hand (not immer): a report is the hot path of a big run, and immer's drafts
  // cost several times the plain copies of the entry's path (profiled). Same result, same sharing.
  let entry: TaskEntry;
  if (retrying) {
    // Automatic retry (rules/retry.ts): back to PENDING without a current attempt; the next
    // cycle dispatches a new attempt, which starts after the backoff.
    entry = {
      ...before,
      reason: retryReason(before, event.attemptId, event.reason),
      retried: (before.retried ?? 0) + 1,
      status: 'PENDING',
      current: null,
    };
  } else {
    entry = { ...before, current: { ...before.current, status: event.status }, status: taskStatusOfAttempt(event.status) };
    if (event.reason !== undefined && !isActiveAttemptStatus(event.status)) entry.reason = event.reason;
    else delete entry.reason;
  }
  const next = withTask(ctx, event.taskId, entry);
  // `active` is a persistent view, updated outside immer (O(1), not a copy of every active attempt).
  if (isActiveAttemptStatus(event.status)) return next;
  const active = activeWithout(next.active, event.attemptId);
  return active === next.active ? next : { ...next, active };
}

/**
 * Applies reports in order, each exactly as its own ATTEMPT.REPORTED would be (a stale or repeated
 * one changes nothing): the run handles reports the same in every state, so one transition for
 * them all reaches the context their separate transitions would.
 */
export function trackReports(ctx: RunContext, reports: readonly AttemptReport[]): RunContext {
  let next = ctx;
  for (const report of reports) if (isCurrentReport(next, report)) next = trackReport(next, report);
  return next;
}

/** True when applying `reports` in order changes something (one of them is news when it arrives). */
export function anyCurrentReport(ctx: RunContext, reports: readonly AttemptReport[]): boolean {
  return reports.some((report) => isCurrentReport(ctx, report));
}

/** Marks every task that can never run SKIPPED (no-op, same object, when there is none). */
export function applySkips(ctx: RunContext): RunContext {
  const skips = findSkips(ctx);
  if (skips.length === 0) return ctx;
  const next = produce(ctx, (draft) => {
    for (const { taskId, reason } of skips) {
      const entry = draftTask(draft, taskId);
      entry.status = 'SKIPPED';
      entry.reason = reason;
    }
  });
  carryDispatchCandidates(ctx, next, skips.map((s) => s.taskId));
  return next;
}

/** Records the attempts the execute phase creates; those without an operator are FAILED_INIT at once. */
export function applyDispatch(ctx: RunContext, plan: readonly Dispatch[]): RunContext {
  if (plan.length === 0) return ctx;
  const started: [string, { taskId: string; operatorKey: string }][] = [];
  // Plain copies, not an immer draft: a fan-out dispatches thousands of tasks at once.
  const entries = new Map<string, TaskEntry>();
  for (const d of plan) {
    const before = entries.get(d.taskId) ?? getTask(ctx, d.taskId);
    if (before === undefined) throw new Error(`internal: unknown task ${d.taskId}`);
    const { reason: _reason, ...rest } = before;
    if (d.initError !== undefined) {
      entries.set(d.taskId, { ...rest, attempts: before.attempts + 1, current: { id: d.attemptId, operatorKey: d.operatorKey, status: 'FAILED_INIT' }, status: 'FAILED', reason: d.initError });
    } else {
      entries.set(d.taskId, { ...rest, attempts: before.attempts + 1, current: { id: d.attemptId, operatorKey: d.operatorKey, status: 'CREATED' }, status: 'PENDING' });
      started.push([d.attemptId, { taskId: d.taskId, operatorKey: d.operatorKey }]);
    }
  }
  const next = withTasks(ctx, entries);
  return started.length === 0 ? next : { ...next, active: activeWith(next.active, started) };
}

/** The ATTEMPT.CREATED message that brings a dispatched attempt actor to life. */
export function creationMessage(d: Dispatch): Message {
  return {
    to: d.attemptId,
    event: {
      type: 'ATTEMPT.CREATED',
      attemptId: d.attemptId,
      taskId: d.taskId,
      operatorKey: d.operatorKey,
      task: d.task,
      ...(d.initError !== undefined ? { initError: d.initError } : {}),
    },
  };
}

/** Applies an accepted command: the next context and the messages it sends to attempts. */
export function applyCommand(ctx: RunContext, cmd: RunCommand): { context: RunContext; messages: Message[] } {
  const issuer = issuerText(cmd.by, cmd.principal);
  const by = issuer !== undefined ? { by: issuer } : {};
  switch (cmd.type) {
    case 'CMD.PAUSE':
    case 'CMD.RESUME':
      return { context: ctx, messages: [] }; // the target state sets the status
    case 'CMD.CANCEL': {
      const messages = activeAttemptIds(ctx).map((id) => ({ to: id, event: { type: 'ATTEMPT.CANCEL' as const, reason: 'run cancelled', ...by } }));
      const reason = issuer !== undefined ? `cancelled by ${issuer}` : 'cancelled';
      return { context: { ...ctx, reason, awaitingPlan: null }, messages };
    }
    case 'CMD.REVIVE':
      return { context: resetTasks(ctx, reviveSet(ctx)), messages: [] };
    case 'CMD.RERUN':
      return { context: resetTasks(ctx, rerunSet(ctx, cmd.taskId, cmd.recursive)), messages: [] };
    case 'CMD.CANCEL_ATTEMPT':
      return { context: ctx, messages: [{ to: cmd.attemptId, event: { type: 'ATTEMPT.CANCEL', reason: 'cancel-attempt command', ...by } }] };
    case 'CMD.APPROVE':
    case 'CMD.REJECT': {
      const comment = cmd.comment !== undefined ? { comment: cmd.comment } : {};
      const data = cmd.data !== undefined ? { data: cmd.data } : {};
      const approve = cmd.type === 'CMD.APPROVE';
      const type = approve ? ('ATTEMPT.APPROVE' as const) : ('ATTEMPT.REJECT' as const);
      const { context, attemptId } = recordDecision(ctx, cmd.taskId, { verb: approve ? 'approved' : 'rejected', ...by });
      // The attempt keeps the claim and the authenticated principal apart (analyze gets both as fields).
      const issuedBy = { ...(cmd.by !== undefined ? { by: cmd.by } : {}), ...(cmd.principal !== undefined ? { principal: cmd.principal } : {}) };
      return { context, messages: [{ to: attemptId, event: { type, ...comment, ...data, ...issuedBy } }] };
    }
  }
}

/** `ctx` with the tasks `ids` reset to PENDING (rerun, revive). */
function resetTasks(ctx: RunContext, ids: readonly string[]): RunContext {
  const next = produce(ctx, (draft) => ids.forEach((id) => resetTask(draft, id)));
  carryDispatchCandidates(ctx, next, ids);
  return next;
}

/** True when the report is news about a task's current attempt (stale or repeated reports are no-ops). */
export function isCurrentReport(ctx: RunContext, event: AttemptReport): boolean {
  const current = getTask(ctx, event.taskId)?.current;
  return current != null && current.id === event.attemptId && current.status !== event.status;
}
