import { activeValues } from '../active-attempts.ts';
import type { RunContext } from '../run-context.ts';

/** Counts free slots: the run's global cap and each operator's own cap (null = unlimited). */
export interface SlotCounter {
  globalFree(): boolean;
  operatorFree(key: string): boolean;
  take(key: string): void;
}

/** Active attempts in total and per operator key. */
export function activeCounts(ctx: Pick<RunContext, 'active'>): { total: number; byOperator: Record<string, number> } {
  const byOperator: Record<string, number> = {};
  let total = 0;
  for (const attempt of activeValues(ctx.active)) {
    total += 1;
    byOperator[attempt.operatorKey] = (byOperator[attempt.operatorKey] ?? 0) + 1;
  }
  return { total, byOperator };
}

/**
 * A slot counter starting from the attempts already active in `ctx`. The active attempts are
 * counted only once a cap asks: uncapped, a fan-out has every attempt active, and counting them
 * on every cycle rescanned the whole run.
 */
export function slotCounter(ctx: Pick<RunContext, 'active' | 'maxConcurrent' | 'operatorCaps'>): SlotCounter {
  let active: { total: number; byOperator: Record<string, number> } | undefined;
  const activeNow = (): { total: number; byOperator: Record<string, number> } => (active ??= activeCounts(ctx));
  let taken = 0;
  const takenBy: Record<string, number> = {};
  return {
    globalFree: () => ctx.maxConcurrent === null || activeNow().total + taken < ctx.maxConcurrent,
    operatorFree: (key) => {
      const cap = ctx.operatorCaps[key];
      return cap === undefined || cap === null || (activeNow().byOperator[key] ?? 0) + (takenBy[key] ?? 0) < cap;
    },
    take: (key) => {
      taken += 1;
      takenBy[key] = (takenBy[key] ?? 0) + 1;
    },
  };
}
