import type { StoredEvent } from '../events/envelope.ts';
import { isHostVersion } from '../events/host-version.ts';

/** What one cycle (a RUN.STEP, or the new workflow that starts one) did in each of the run's four phases. */
export interface StepPhases {
  /** Attempt reports the run applied since the previous cycle (reports are applied as they arrive; poll starts the cycle from them). */
  poll: { reportsApplied: number };
  /** Tasks the cycle skipped (a dependency failed or was cancelled). */
  plan: { tasksSkipped: number };
  /** Attempts the cycle created. */
  execute: { attemptsDispatched: number };
  /** How the cycle ended: still waiting on tasks, failed, or the campaign asked to analyze an iteration. */
  analyze: { outcome: 'waiting' | 'failed' | 'completed' | 'campaign asked'; iteration: number | null };
}

// A step acts only from these states; elsewhere (paused, terminal, campaign out) the machine ignores it.
const STEPPING_FROM = new Set(['pending', 'waiting']);

/**
 * The phases every cycle passed through, by the seq of the record that ran it (a RUN.STEP, or a
 * CAMPAIGN.PLANNED that goes straight to poll), derived from the records' `to`
 * states and changes (the machine runs poll → plan → execute → analyze within one record; the
 * attempts it dispatched are the ATTEMPT.CREATED records that follow it).
 */
export function stepPhases(records: readonly StoredEvent[]): Map<number, StepPhases> {
  const out = new Map<number, StepPhases>();
  let reports = 0;
  let iteration: number | null = null;
  let current: StepPhases | undefined;
  for (const record of records) {
    // Who wrote what follows, not a transition: it neither ends a cycle nor starts one.
    if (isHostVersion(record)) continue;
    for (const change of record.changes) if (change.kind === 'workflow.planned') iteration = change.iteration;
    if (record.actor !== 'run') {
      if (current !== undefined && record.type === 'ATTEMPT.CREATED') current.execute.attemptsDispatched++;
      continue;
    }
    current = undefined;
    if (record.type === 'ATTEMPT.REPORTED' && record.changes.length > 0) reports++;
    // Reports gathered into one record: each task whose status they changed counts as one applied.
    if (record.type === 'ATTEMPTS.REPORTED') reports += record.changes.filter((c) => c.kind === 'task.status').length;
    if (!runsCycle(record)) continue;
    current = {
      poll: { reportsApplied: reports },
      plan: { tasksSkipped: record.changes.filter((c) => c.kind === 'task.status' && c.status === 'SKIPPED').length },
      execute: { attemptsDispatched: 0 },
      analyze: { outcome: analyzeOutcome(record.to), iteration },
    };
    out.set(record.seq, current);
    reports = 0;
  }
  return out;
}

/** A RUN.STEP the run acted on, or a new workflow from the campaign, which starts its cycle at once. */
function runsCycle(record: StoredEvent): boolean {
  if (record.type === 'RUN.STEP') return typeof record.from === 'string' && STEPPING_FROM.has(record.from);
  const fromCampaign = record.from !== null && typeof record.from === 'object' && 'analyze' in record.from;
  return record.type === 'CAMPAIGN.PLANNED' && fromCampaign && record.to !== 'completed' && record.changes.some((c) => c.kind === 'workflow.planned');
}

function analyzeOutcome(to: StoredEvent['to']): StepPhases['analyze']['outcome'] {
  if (to === 'failed' || to === 'completed') return to;
  if (to !== null && typeof to === 'object' && 'analyze' in to) return 'campaign asked';
  return 'waiting';
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `poll (2 reports applied) → plan (0 tasks skipped) → execute (1 attempt dispatched) → analyze (…)`. */
export function stepPhasesText(phases: StepPhases): string {
  const { outcome, iteration } = phases.analyze;
  const analyze =
    outcome === 'campaign asked'
      ? `campaign asked to analyze iteration ${iteration ?? '?'}`
      : outcome === 'waiting'
        ? 'tasks still to finish: waits for the next cycle'
        : `run ${outcome}`;
  return [
    `poll (${plural(phases.poll.reportsApplied, 'report')} applied)`,
    `plan (${plural(phases.plan.tasksSkipped, 'task')} skipped)`,
    `execute (${plural(phases.execute.attemptsDispatched, 'attempt')} dispatched)`,
    `analyze (${analyze})`,
  ].join(' → ');
}
