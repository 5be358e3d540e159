/**
 * `matterstack check demos/coatings_active_learning`: what a simulation reports, and the property of
 * an active-learning loop: the best objective found so far never gets worse.
 */
import { fc, type WorkspaceChecks } from '../../../testing/index.ts';
import type { JsonValue } from '../../../index.ts';

const simulated: fc.Arbitrary<JsonValue> = fc.record({
  friction: fc.double({ min: 0.01, max: 1, noNaN: true }),
  dissolved_ug_cm2: fc.double({ min: 0, max: 50, noNaN: true }),
});

type State = { history: { best_objective: number }[] } | null;

const checks: WorkspaceChecks<State> = {
  results: (task) => (task.id.startsWith('sim_') ? simulated : undefined),
  invariants: [
    function bestObjectiveNeverWorsens(state) {
      const bests = state?.history.map((h) => h.best_objective) ?? [];
      return bests.every((best, k) => k === 0 || best <= bests[k - 1]!);
    },
  ],
};
export default checks;
