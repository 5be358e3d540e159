import { attemptPhase, isCollecting, isWatchable } from './attempt-phase.ts';
import type { AttemptSnapshot, RunSnapshot } from './decide.ts';
import type { Effect } from './effects.ts';
import { analyzeResults } from './rules/outcome.ts';
import type { RunSystem } from './system.ts';

/** An effect and the actor whose transition asked for it. */
export interface PendingEffect {
  actor: string;
  effect: Effect;
}

/**
 * The effects a restored system still owes: a crash may fall between an append and its effect,
 * and replay runs no effects, so restore re-derives them from the states (operators recognise
 * work they already did: effects are idempotent by attempt id). Deterministic, in attempt order.
 */
export function pendingEffects(system: RunSystem): PendingEffect[] {
  const owed: PendingEffect[] = [];
  for (const [attemptId, snapshot] of system.attempts) {
    const effect = attemptEffectOwed(snapshot);
    if (effect !== undefined) owed.push({ actor: attemptId, effect });
  }
  const runEffect = system.run === undefined ? undefined : runEffectOwed(system.run);
  if (runEffect !== undefined) owed.push({ actor: 'run', effect: runEffect });
  return owed;
}

/**
 * True when `system` still owes `pending`: a later record of the batch that asked for it may have
 * done its work already (an attempt's results delivered with its completion report) or made it moot.
 */
export function isStillOwed(system: RunSystem, pending: PendingEffect): boolean {
  if (pending.actor === 'run') return true;
  const snapshot = system.attempts.get(pending.actor);
  return snapshot !== undefined && owedAttemptEffect(snapshot) === pending.effect.type;
}

/** The kind of effect an attempt in this state owes, if any. */
function owedAttemptEffect(snapshot: AttemptSnapshot): Effect['type'] | undefined {
  const phase = attemptPhase(snapshot);
  if (phase === 'created') return 'attempt.start';
  if (isWatchable(snapshot)) return 'attempt.watch';
  if (phase === 'cancelling') return 'attempt.cancel';
  if (isCollecting(snapshot)) return 'attempt.collect';
  return undefined;
}

function attemptEffectOwed(snapshot: AttemptSnapshot): Effect | undefined {
  const { attemptId, taskId, operatorKey, task, externalId } = snapshot.context;
  switch (owedAttemptEffect(snapshot)) {
    case 'attempt.start':
      return { type: 'attempt.start', attemptId, taskId, operatorKey, task };
    case 'attempt.watch':
      return { type: 'attempt.watch', attemptId, operatorKey, externalId: externalId ?? '' };
    case 'attempt.cancel':
      return { type: 'attempt.cancel', attemptId, operatorKey };
    case 'attempt.collect':
      return { type: 'attempt.collect', attemptId, operatorKey };
    default:
      return undefined;
  }
}

function runEffectOwed(snapshot: RunSnapshot): Effect | undefined {
  const { awaitingPlan } = snapshot.context;
  // The first plan (iteration 0) is made by initializeRun before the run exists in the log.
  if (awaitingPlan === null || awaitingPlan === 0) return undefined;
  return { type: 'campaign.analyzeAndPlan', iteration: awaitingPlan - 1, results: analyzeResults(snapshot.context) };
}
