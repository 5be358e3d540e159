/**
 * Catalyst discovery with a human in the loop.
 *
 * 0. `propose` pre-screens a library of metal surfaces with the cheap d-band descriptor.
 * 1. `gate_approval` (a gate: a person approves or rejects the proposed list) and one
 *    `ads_<surface>` adsorption-energy calculation per candidate, each depending on the gate,
 *    so nothing expensive runs before approval. If the gate is rejected the calculations are
 *    skipped and the run ends FAILED (the orchestrator's rule for a failed dependency).
 * 2. `rank` orders the computed surfaces by the Sabatier principle and checks the descriptor.
 */

import type { Campaign, TaskResult, JsonValue, Task as TaskSpecInput, Workflow as WorkflowInput } from '../../../index.ts';

type Surface = {
  id: string;
  d_band_center_eV: number;
  lattice_A: number;
  /** O–metal Morse pair potential. */
  morse: { De: number; alpha: number; r0: number };
};
type Candidate = Surface & { estimated_E_eV: number };
type Computed = { id: string; d_band_center_eV: number; estimated_E_eV: number; adsorption_energy_eV: number; site: string };
type RankEntry = { rank: number; id: string; adsorption_energy_eV: number; activity: number };

type CatalystState = {
  iteration: number;
  candidates: Candidate[];
  computed: Computed[];
  ranking: RankEntry[] | null;
  descriptor_fit: JsonValue;
};

/** Oxygen binding energy (eV) at the top of the activity volcano, and how far the pre-screen looks. */
export const OPTIMUM_EV = -2.2;
const WINDOW_EV = 0.6;

const morse = (De: number): Surface['morse'] => ({ De, alpha: 1.6, r0: 2.0 });
/** fcc(111) surfaces (Ru approximated as fcc); d-band centres from the d-band-model literature. */
export const LIBRARY: readonly Surface[] = [
  { id: 'Pt111', d_band_center_eV: -2.25, lattice_A: 3.92, morse: morse(0.52) },
  { id: 'Pd111', d_band_center_eV: -1.83, lattice_A: 3.89, morse: morse(0.4) },
  { id: 'Cu111', d_band_center_eV: -2.67, lattice_A: 3.61, morse: morse(0.55) },
  { id: 'Rh111', d_band_center_eV: -1.73, lattice_A: 3.8, morse: morse(0.45) },
  { id: 'Ir111', d_band_center_eV: -2.11, lattice_A: 3.84, morse: morse(0.5) },
  { id: 'Ni111', d_band_center_eV: -1.29, lattice_A: 3.52, morse: morse(0.6) },
  { id: 'Ru111', d_band_center_eV: -1.41, lattice_A: 3.8, morse: morse(0.62) },
  { id: 'Au111', d_band_center_eV: -3.56, lattice_A: 4.08, morse: morse(0.3) },
  { id: 'Ag111', d_band_center_eV: -4.3, lattice_A: 4.09, morse: morse(0.28) },
];

export const GATE_ID = 'gate_approval';
const adsTaskId = (c: { id: string }): string => `ads_${c.id}`;
const json = (value: JsonValue): string => `${JSON.stringify(value, null, 2)}\n`;

function isObject(value: JsonValue | undefined): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function dataOf(taskId: string, result: TaskResult | undefined): { [key: string]: JsonValue } {
  if (result?.status !== 'COMPLETED' || !isObject(result.data)) throw new Error(`task ${taskId} gave no data (status ${result?.status ?? 'missing'})`);
  return result.data;
}

function gateMessage(candidates: readonly Candidate[]): string {
  const lines = candidates.map((c) => `- ${c.id}: d-band centre ${c.d_band_center_eV} eV, estimated O binding ${c.estimated_E_eV} eV`);
  return [
    `The pre-screen proposes ${candidates.length} surfaces for adsorption-energy calculations (optimum ${OPTIMUM_EV} eV):`,
    ...lines,
    '',
    'Approve to run the calculations; reject to stop the campaign.',
  ].join('\n');
}

function adsorptionTask(c: Candidate): TaskSpecInput {
  const surface: Surface = { id: c.id, d_band_center_eV: c.d_band_center_eV, lattice_A: c.lattice_A, morse: c.morse };
  return {
    id: adsTaskId(c),
    command: ['node', 'adsorption.mjs'],
    files: { 'adsorption.mjs': { source: 'scripts/adsorption.mjs' }, 'surface.json': json(surface) },
    dependencies: [GATE_ID],
    timeLimitMinutes: 10,
  };
}

export function plan(raw: JsonValue | null): WorkflowInput | null {
  const state = raw as CatalystState | null;
  if (state === null) {
    return {
      tasks: [
        {
          id: 'propose',
          command: ['node', 'propose.mjs'],
          files: { 'propose.mjs': { source: 'scripts/propose.mjs' }, 'library.json': json({ surfaces: [...LIBRARY], optimum_eV: OPTIMUM_EV, window_eV: WINDOW_EV }) },
          timeLimitMinutes: 5,
        },
      ],
    };
  }
  // Nothing passed the pre-screen: nothing to approve or compute.
  if (state.iteration === 1 && state.candidates.length === 0) return null;
  if (state.iteration === 1) {
    return { tasks: [{ id: GATE_ID, kind: 'gate', message: gateMessage(state.candidates) }, ...state.candidates.map(adsorptionTask)] };
  }
  if (state.iteration === 2) {
    return {
      tasks: [
        {
          id: 'rank',
          command: ['node', 'rank.mjs'],
          files: { 'rank.mjs': { source: 'scripts/rank.mjs' }, 'energies.json': json({ optimum_eV: OPTIMUM_EV, results: state.computed }) },
          dependencies: state.candidates.map(adsTaskId),
          timeLimitMinutes: 5,
        },
      ],
    };
  }
  return null;
}

export function analyze(raw: JsonValue | null, results: Record<string, TaskResult>): JsonValue {
  const state = raw as CatalystState | null;
  let next: CatalystState;
  if (state === null) {
    const proposed = dataOf('propose', results.propose).candidates;
    const candidates = (Array.isArray(proposed) ? proposed : []) as Candidate[];
    next = { iteration: 1, candidates, computed: [], ranking: null, descriptor_fit: null };
  } else if (state.iteration === 1) {
    const computed = state.candidates.map((c): Computed => {
      const data = dataOf(adsTaskId(c), results[adsTaskId(c)]);
      if (typeof data.adsorption_energy_eV !== 'number') throw new Error(`${adsTaskId(c)} reported no adsorption energy`);
      return { id: c.id, d_band_center_eV: c.d_band_center_eV, estimated_E_eV: c.estimated_E_eV, adsorption_energy_eV: data.adsorption_energy_eV, site: String(data.site) };
    });
    next = { ...state, iteration: 2, computed };
  } else {
    const data = dataOf('rank', results.rank);
    const ranking = (Array.isArray(data.ranking) ? data.ranking : []) as RankEntry[];
    next = { ...state, iteration: 3, ranking, descriptor_fit: data.descriptor_fit ?? null };
  }
  return next;
}

const campaign: Campaign = { plan, analyze };
export default campaign;
