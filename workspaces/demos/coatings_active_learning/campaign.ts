/**
 * Coatings active learning: find a polymer coating with low friction, little corrosion
 * through it and little material, in three batches of simulations.
 *
 * Batch 0 is a Latin hypercube (no model yet). After each batch, `analyze` scores the new
 * coatings, measures how well the surrogate had predicted them, refits the surrogate
 * (k-nearest-neighbour, see surrogate.ts) and picks the next batch from a seeded candidate
 * pool by lower confidence bound. Each coating is one task `sim_i<batch>_c<k>` running
 * `simulate.mjs`. After ITERATIONS batches the campaign is finished.
 */
import type { Campaign, TaskResult, JsonValue, Task as TaskSpecInput, Workflow as WorkflowInput } from '../../../index.ts';
import { latinHypercube, pickBatch, randomPool, type CoatingParams, type Observation } from './surrogate.ts';

export const ITERATIONS = 3;
export const BATCH_SIZE = 4;
const POOL_SIZE = 200;
const SEED = 42;

/** The figure of merit (lower is better): friction + corrosion + material used. */
export function objective(friction: number, dissolved: number, thickness: number): number {
  return Number((friction + 0.002 * dissolved + 0.004 * thickness).toFixed(5));
}

type Pending = { id: string; params: CoatingParams; predicted: number | null };
type Evaluated = Pending & { iteration: number; friction: number; dissolved_ug_cm2: number; objective: number };
type HistoryEntry = {
  iteration: number;
  best_id: string;
  best_objective: number;
  /** Mean absolute error of the surrogate on this batch, before it saw it (null for batch 0). */
  surrogate_mae: number | null;
};
type CoatingsState = { iteration: number; evaluated: Evaluated[]; pending: Pending[]; history: HistoryEntry[] };

function initialBatch(): Pending[] {
  return latinHypercube(BATCH_SIZE, SEED).map((params, k) => ({ id: `i0_c${k}`, params, predicted: null }));
}

function simTask(candidate: Pending): TaskSpecInput {
  return {
    id: `sim_${candidate.id}`,
    command: ['node', 'simulate.mjs'],
    files: {
      'simulate.mjs': { source: 'scripts/simulate.mjs' },
      'input.json': `${JSON.stringify({ id: candidate.id, params: candidate.params })}\n`,
    },
    timeLimitMinutes: 5,
  };
}

function isObject(value: JsonValue | undefined): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readSimulation(candidate: Pending, result: TaskResult | undefined): { friction: number; dissolved: number } {
  const data = result?.data;
  if (result?.status !== 'COMPLETED' || !isObject(data) || typeof data.friction !== 'number' || typeof data.dissolved_ug_cm2 !== 'number') {
    throw new Error(`simulation of ${candidate.id} gave no friction / dissolution (status ${result?.status ?? 'missing'})`);
  }
  return { friction: data.friction, dissolved: data.dissolved_ug_cm2 };
}

export function plan(raw: JsonValue | null): WorkflowInput | null {
  const state = raw as CoatingsState | null;
  if (state !== null && state.iteration >= ITERATIONS) return null;
  const batch = state === null ? initialBatch() : state.pending;
  return { tasks: batch.map(simTask) };
}

export function analyze(raw: JsonValue | null, results: Record<string, TaskResult>): JsonValue {
  const state: CoatingsState = (raw as CoatingsState | null) ?? { iteration: 0, evaluated: [], pending: initialBatch(), history: [] };
  const batch: Evaluated[] = state.pending.map((candidate) => {
    const { friction, dissolved } = readSimulation(candidate, results[`sim_${candidate.id}`]);
    const score = objective(friction, dissolved, candidate.params.thickness_um);
    return { ...candidate, iteration: state.iteration, friction, dissolved_ug_cm2: dissolved, objective: score };
  });
  const evaluated = [...state.evaluated, ...batch];
  const best = evaluated.reduce((a, b) => (b.objective < a.objective ? b : a));
  const predictedOnes = batch.filter((c) => c.predicted !== null);
  const mae = predictedOnes.length === 0 ? null : predictedOnes.reduce((sum, c) => sum + Math.abs(c.objective - (c.predicted ?? 0)), 0) / predictedOnes.length;
  const history = [...state.history, { iteration: state.iteration, best_id: best.id, best_objective: best.objective, surrogate_mae: mae === null ? null : Number(mae.toFixed(5)) }];

  const iteration = state.iteration + 1;
  let pending: Pending[] = [];
  if (iteration < ITERATIONS) {
    const observations: Observation[] = evaluated.map((e) => ({ params: e.params, objective: e.objective }));
    pending = pickBatch(observations, randomPool(POOL_SIZE, SEED + iteration), BATCH_SIZE).map((pick, k) => ({ id: `i${iteration}_c${k}`, ...pick }));
  }
  const next: CoatingsState = { iteration, evaluated, pending, history };
  return next;
}

const campaign: Campaign = { plan, analyze };
export default campaign;
