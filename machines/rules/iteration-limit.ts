import type { CampaignPlanned } from '../../events/run-events.ts';
import type { RunContext } from '../run-context.ts';

/** Workflows a campaign may plan in one run unless it exports its own `maxIterations`. */
export const DEFAULT_MAX_ITERATIONS = 1000;

/**
 * Why a planned workflow is refused as spinning, or null: iterations count from 0, so the
 * workflow of iteration `maxIterations` is one too many (a plan that never returns null).
 */
export function iterationLimitReason(ctx: RunContext, event: CampaignPlanned): string | null {
  const limit = ctx.maxIterations ?? DEFAULT_MAX_ITERATIONS;
  if (event.workflow === null || event.iteration < limit) return null;
  return `campaign planned more than maxIterations (${limit}) workflows without returning null; a plan that always returns work never ends (export a larger maxIterations from the campaign if this run needs more)`;
}
