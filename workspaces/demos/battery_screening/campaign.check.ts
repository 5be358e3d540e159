/**
 * `matterstack check demos/battery_screening`: what the screening and ranking tasks report, and
 * what must hold in every scenario (any task may fail, time out, be cancelled or rerun).
 */
import { fc, type WorkspaceChecks } from '../../../testing/index.ts';
import type { JsonValue } from '../../../index.ts';
import { CANDIDATES } from './campaign.ts';

const positive = (max: number): fc.Arbitrary<number> => fc.double({ min: 0.001, max, noNaN: true });

/** A screening task's results.json. */
const screened = (id: string): fc.Arbitrary<JsonValue> =>
  fc.record({
    id: fc.constant(id),
    conductivity_mS_cm: positive(20),
    oxidation_limit_V: positive(6),
    viscosity_cP: positive(10),
    dissociated_fraction: fc.double({ min: 0, max: 1, noNaN: true }),
  });

/** The rank task's results.json: a ranking of some candidates and the best one. */
const ranked: fc.Arbitrary<JsonValue> = fc.subarray(CANDIDATES.map((c) => c.id), { minLength: 1 }).map((ids) => ({
  ranking: ids.map((id, index) => ({ rank: index + 1, id, score: 1 - index / ids.length, pareto: index === 0 })),
  failed: [],
  best: ids[0]!,
}));

type State = { screened: { id: string }[]; failed: { id: string }[]; best: string | null } | null;

const checks: WorkspaceChecks<State> = {
  results: (task) => (task.id === 'rank' ? ranked : task.id.startsWith('screen_') ? screened(task.id.slice('screen_'.length)) : undefined),
  invariants: [
    function everyCandidateIsScreenedOrFailed(state) {
      return state === null || state.screened.length + state.failed.length === CANDIDATES.length;
    },
  ],
};
export default checks;
