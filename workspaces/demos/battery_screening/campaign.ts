/**
 * Battery electrolyte screening: fan-out / fan-in.
 *
 * Iteration 0 screens every candidate electrolyte in parallel (one task each, `screen.mjs`).
 * A candidate the model cannot make (salt above its solubility) fails; `allowFailure` keeps
 * that from failing the run, as in the original demo. Iteration 1 runs one `rank` task that
 * depends on all screening tasks and receives their numbers as a staged `screening.json`
 * (outputs of other tasks are never copied automatically). Then the campaign is finished.
 */

import type { Campaign, TaskResult, JsonValue, Task as TaskSpecInput, Workflow as WorkflowInput } from '../../../index.ts';

type Electrolyte = { id: string; salt: string; concentration_M: number; ec_fraction: number };

/** What a screening task reports (its results.json). */
type Screened = {
  id: string;
  conductivity_mS_cm: number;
  oxidation_limit_V: number;
  viscosity_cP: number;
  dissociated_fraction: number;
};

type RankEntry = { rank: number; id: string; score: number; pareto: boolean };

type BatteryState = {
  iteration: number;
  screened: Screened[];
  /** Candidates whose screening task did not complete, with the task status. */
  failed: { id: string; status: string }[];
  ranking: RankEntry[] | null;
  best: string | null;
};

/** EC:DMC blends of common lithium salts. E06 is deliberately beyond LiBOB's solubility. */
export const CANDIDATES: readonly Electrolyte[] = [
  { id: 'E01', salt: 'LiPF6', concentration_M: 1.0, ec_fraction: 0.3 },
  { id: 'E02', salt: 'LiPF6', concentration_M: 1.2, ec_fraction: 0.5 },
  { id: 'E03', salt: 'LiTFSI', concentration_M: 1.0, ec_fraction: 0.3 },
  { id: 'E04', salt: 'LiFSI', concentration_M: 1.5, ec_fraction: 0.3 },
  { id: 'E05', salt: 'LiFSI', concentration_M: 4.0, ec_fraction: 0.2 },
  { id: 'E06', salt: 'LiBOB', concentration_M: 1.6, ec_fraction: 0.5 },
];

/** How much each property counts in the final score (sums to 1). */
const WEIGHTS = { conductivity: 0.5, oxidation: 0.3, viscosity: 0.2 };

const screenTaskId = (c: Electrolyte): string => `screen_${c.id}`;

function screenTask(c: Electrolyte): TaskSpecInput {
  return {
    id: screenTaskId(c),
    command: ['node', 'screen.mjs'],
    files: { 'screen.mjs': { source: 'scripts/screen.mjs' }, 'candidate.json': `${JSON.stringify(c)}\n` },
    allowFailure: true,
    timeLimitMinutes: 5,
  };
}

function rankTask(state: BatteryState): TaskSpecInput {
  const screening = { screened: state.screened, failed: state.failed.map((f) => f.id), weights: WEIGHTS };
  return {
    id: 'rank',
    command: ['node', 'rank.mjs'],
    files: { 'rank.mjs': { source: 'scripts/rank.mjs' }, 'screening.json': `${JSON.stringify(screening, null, 2)}\n` },
    // Provenance: the ranking is built from every screening task, failed ones included.
    dependencies: CANDIDATES.map(screenTaskId),
    allowDependencyFailure: true,
    timeLimitMinutes: 5,
  };
}

function isObject(value: JsonValue | undefined): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The screening numbers of a completed task, or null when its output is missing or malformed. */
function readScreened(id: string, result: TaskResult | undefined): Screened | null {
  if (result?.status !== 'COMPLETED' || !isObject(result.data)) return null;
  const { conductivity_mS_cm, oxidation_limit_V, viscosity_cP, dissociated_fraction } = result.data;
  if (typeof conductivity_mS_cm !== 'number' || typeof oxidation_limit_V !== 'number') return null;
  if (typeof viscosity_cP !== 'number' || typeof dissociated_fraction !== 'number') return null;
  return { id, conductivity_mS_cm, oxidation_limit_V, viscosity_cP, dissociated_fraction };
}

function readRanking(result: TaskResult | undefined): { ranking: RankEntry[]; best: string | null } {
  if (result?.status !== 'COMPLETED' || !isObject(result.data) || !Array.isArray(result.data.ranking)) {
    throw new Error(`rank task did not produce a ranking (status ${result?.status ?? 'missing'})`);
  }
  const ranking = result.data.ranking.filter(isObject).map((entry) => ({
    rank: Number(entry.rank),
    id: String(entry.id),
    score: Number(entry.score),
    pareto: entry.pareto === true,
  }));
  return { ranking, best: typeof result.data.best === 'string' ? result.data.best : null };
}

export function plan(raw: JsonValue | null): WorkflowInput | null {
  const state = raw as BatteryState | null;
  if (state === null) return { tasks: CANDIDATES.map(screenTask) };
  if (state.iteration === 1) return { tasks: [rankTask(state)] };
  return null;
}

export function analyze(raw: JsonValue | null, results: Record<string, TaskResult>): JsonValue {
  const state = raw as BatteryState | null;
  if (state === null) {
    const screened: Screened[] = [];
    const failed: BatteryState['failed'] = [];
    for (const candidate of CANDIDATES) {
      const result = results[screenTaskId(candidate)];
      const values = readScreened(candidate.id, result);
      if (values) screened.push(values);
      else failed.push({ id: candidate.id, status: result?.status ?? 'MISSING' });
    }
    const next: BatteryState = { iteration: 1, screened, failed, ranking: null, best: null };
    return next;
  }
  const { ranking, best } = readRanking(results.rank);
  const next: BatteryState = { ...state, iteration: 2, ranking, best };
  return next;
}

const campaign: Campaign = { plan, analyze };
export default campaign;
