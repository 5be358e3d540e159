import type { OperatorsConfig } from '../workspace/operators-config.ts';
import { pollIntervalMsOf } from '../operators/poll-interval.ts';
import type { RunStatusView } from '../projections/queries.ts';
import { LIVE_RECHECK_MS } from '../host/wakeup.ts';

/**
 * When, at the latest, a waiting run driven by `loop <run>` starts its next cycle, in seconds: a
 * cycle starts when an operator reports a change, and the soonest-polling operator of its active
 * tasks looks every `poll_interval_seconds`; with none active, when the loop looks again.
 */
export function nextCycleSeconds(config: OperatorsConfig, view: RunStatusView): number {
  let soonest: number | undefined;
  for (const task of view.tasks) {
    if (task.status !== 'RUNNING' && task.status !== 'WAITING_EXTERNAL') continue;
    const entry = task.operatorKey === null ? undefined : config.operators[task.operatorKey];
    if (entry === undefined) continue;
    const ms = pollIntervalMsOf(entry);
    soonest = soonest === undefined ? ms : Math.min(soonest, ms);
  }
  return Math.round((soonest ?? LIVE_RECHECK_MS) / 100) / 10;
}
