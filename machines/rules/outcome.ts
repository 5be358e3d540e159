import { TERMINAL_TASK_STATUSES } from '../../events/statuses.ts';
import { activeSize } from '../active-attempts.ts';
import type { AnalyzeResult } from '../effects.ts';
import { tasksInOrder, type RunContext, type TaskEntry } from '../run-context.ts';
import { isReady } from './readiness.ts';

/** What a cycle ends with: keep waiting, fail the run, or hand the workflow to the campaign. */
export type CycleOutcome = { kind: 'progress' } | { kind: 'failed'; reason: string } | { kind: 'analyze' };

/** A failure that fails the run: FAILED or CANCELLED without `allowFailure`. */
export function isHardFailure(entry: TaskEntry): boolean {
  return (entry.status === 'FAILED' || entry.status === 'CANCELLED') && !entry.spec.allowFailure;
}

/**
 * SPEC §3 ANALYZE: while something is active or ready the run progresses; once nothing can,
 * hard failures fail the run (the reason lists them), else every task is terminal → analyze.
 */
export function cycleOutcome(ctx: RunContext): CycleOutcome {
  if (activeSize(ctx.active) > 0) return { kind: 'progress' };
  const failed: string[] = [];
  const stuck: string[] = [];
  for (const entry of tasksInOrder(ctx)) {
    if (isReady(ctx, entry)) return { kind: 'progress' };
    if (isHardFailure(entry)) failed.push(`${entry.spec.id} (${entry.status}${entry.reason ? `: ${entry.reason}` : ''})`);
    else if (!TERMINAL_TASK_STATUSES.includes(entry.status)) stuck.push(entry.spec.id);
  }
  if (failed.length > 0) return { kind: 'failed', reason: `failed tasks: ${failed.join(', ')}` };
  // Unreachable with validated (acyclic) workflows and skip propagation; never hang silently.
  if (stuck.length > 0) return { kind: 'failed', reason: `tasks can never run: ${stuck.join(', ')}` };
  return { kind: 'analyze' };
}

/** The results map of the current workflow: each task's status and current attempt. */
export function analyzeResults(ctx: RunContext): Record<string, AnalyzeResult> {
  const results: Record<string, AnalyzeResult> = {};
  for (const entry of tasksInOrder(ctx)) {
    if (entry.iteration !== ctx.iteration) continue;
    results[entry.spec.id] = { status: entry.status, attemptId: entry.current?.id ?? null };
  }
  return results;
}
