/**
 * `matterstack check demos/catalyst_human_in_loop`: what the pre-screen, the adsorption tasks and
 * the ranking report (the gate may be approved, rejected or left waiting), and what must hold.
 */
import { fc, type WorkspaceChecks } from '../../../testing/index.ts';
import type { JsonValue } from '../../../index.ts';
import { LIBRARY } from './campaign.ts';

const energy = fc.double({ min: -5, max: 0, noNaN: true });

/** The pre-screen's candidates: some surfaces of the library with an estimated binding energy. */
const proposed: fc.Arbitrary<JsonValue> = fc
  .subarray([...LIBRARY])
  .chain((surfaces) => fc.tuple(...surfaces.map(() => energy)).map((estimates) => ({ candidates: surfaces.map((s, k) => ({ ...s, estimated_E_eV: estimates[k]! })) })));

const adsorbed: fc.Arbitrary<JsonValue> = fc.record({ adsorption_energy_eV: energy, site: fc.constantFrom('top', 'bridge', 'hollow') });
const ranked: fc.Arbitrary<JsonValue> = fc.constant({ ranking: [], descriptor_fit: null });

type State = { iteration: number; candidates: { id: string }[]; computed: { id: string }[] } | null;

const checks: WorkspaceChecks<State> = {
  results: (task) => (task.id === 'propose' ? proposed : task.id === 'rank' ? ranked : task.id.startsWith('ads_') ? adsorbed : undefined),
  invariants: [
    function computedOnlyForCandidates(state) {
      return state === null || state.computed.every((c) => state.candidates.some((candidate) => candidate.id === c.id));
    },
  ],
};
export default checks;
