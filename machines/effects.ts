import type { TaskSpec } from '../events/workflow.ts';
import type { TaskStatus } from '../events/statuses.ts';

/**
 * What a transition asks the host to do once its log record is durable (write-ahead).
 * Serialisable; idempotent by attempt id (restore may re-issue them); their outcomes come back as
 * events. Run effects come from the run actor, attempt effects from the attempt actor.
 */
export type Effect =
  /** prepare + submit the attempt with its operator → ATTEMPT.SUBMITTED | ATTEMPT.SUBMIT_FAILED. */
  | { type: 'attempt.start'; attemptId: string; taskId: string; operatorKey: string; task: TaskSpec }
  /** keep polling/watching the operator → OPERATOR.REPORTED on change (nothing logged otherwise). */
  | { type: 'attempt.watch'; attemptId: string; operatorKey: string; externalId: string }
  /** collect files and data (on COMPLETED and FAILED) → ATTEMPT.RESULTS | ATTEMPT.RESULTS_INVALID | ATTEMPT.COLLECT_FAILED. */
  | { type: 'attempt.collect'; attemptId: string; operatorKey: string }
  /** cancel the work through the operator → ATTEMPT.CANCELLED (or OPERATOR.REPORTED if it ended first). */
  | { type: 'attempt.cancel'; attemptId: string; operatorKey: string }
  /**
   * call `analyze(state, results)` then `plan(newState)` → CAMPAIGN.PLANNED {iteration: iteration+1}
   * | CAMPAIGN.FAILED. `results` names each task's current attempt; the host attaches its files/data.
   */
  | { type: 'campaign.analyzeAndPlan'; iteration: number; results: Record<string, AnalyzeResult> };

/** One entry of the results map handed to `analyze`, before the host attaches files and data. */
export interface AnalyzeResult {
  status: TaskStatus;
  attemptId: string | null;
}

export type EffectType = Effect['type'];
export const EFFECT_TYPES: readonly EffectType[] = [
  'attempt.start',
  'attempt.watch',
  'attempt.collect',
  'attempt.cancel',
  'campaign.analyzeAndPlan',
];
