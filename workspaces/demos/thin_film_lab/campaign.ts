/**
 * Thin-film self-driving lab: predict → experiment → reconcile, one step per iteration.
 *
 * 0. `predict` (compute) proposes a sputtering recipe for the target ITO film from a process model.
 * 1. `deposit` (external, experiment.default) hands the recipe to the lab robot through
 *    `experiment_request.json` and waits for its `experiment_result.json` (robot.mjs simulates
 *    the robot). The request must be known when the workflow is planned, which is why the
 *    prediction runs in its own, earlier iteration.
 * 2. `reconcile` (compute) compares prediction and measurement and calibrates the model.
 */

import type { Campaign, TaskResult, JsonValue, Workflow as WorkflowInput } from '../../../index.ts';

type JsonObject = { [key: string]: JsonValue };

/** The film we want and the limits the recipe must respect. */
export const TARGET = {
  material: 'ITO',
  thickness_nm: 150,
  max_rate_nm_s: 0.5,
  temp_range_C: [25, 400],
  /** Relative error (prediction vs measurement) the model may have before it needs recalibration. */
  tolerance: 0.05,
};

type Stage = 'experiment' | 'reconcile' | 'done';
type ThinFilmState = {
  stage: Stage;
  prediction: JsonObject;
  measurement: JsonObject | null;
  reconciliation: JsonObject | null;
};

const json = (value: JsonValue): string => `${JSON.stringify(value, null, 2)}\n`;

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The data a completed task reported; throws when it has none (the next step cannot go on without it). */
function dataOf(taskId: string, result: TaskResult | undefined): JsonObject {
  if (result?.status !== 'COMPLETED' || !isObject(result.data)) {
    throw new Error(`task ${taskId} gave no data (status ${result?.status ?? 'missing'})`);
  }
  return result.data;
}

const TARGET_FILE = json(TARGET);

export function plan(raw: JsonValue | null): WorkflowInput | null {
  const state = raw as ThinFilmState | null;
  if (state === null) {
    return {
      tasks: [
        {
          id: 'predict',
          command: ['node', 'predict.mjs'],
          files: { 'predict.mjs': { source: 'scripts/predict.mjs' }, 'film-model.mjs': { source: 'scripts/film-model.mjs' }, 'target.json': TARGET_FILE },
          timeLimitMinutes: 5,
        },
      ],
    };
  }
  if (state.stage === 'experiment') {
    const { power_W, time_s, substrate_temp_C, thickness_nm } = state.prediction;
    return {
      tasks: [
        {
          id: 'deposit',
          kind: 'external',
          operatorKey: 'experiment.default',
          dependencies: ['predict'],
          request: { material: TARGET.material, recipe: 'sputter-ITO', power_W: power_W ?? null, time_s: time_s ?? null, substrate_temp_C: substrate_temp_C ?? null, expected_thickness_nm: thickness_nm ?? null },
        },
      ],
    };
  }
  if (state.stage === 'reconcile') {
    return {
      tasks: [
        {
          id: 'reconcile',
          command: ['node', 'reconcile.mjs'],
          dependencies: ['deposit'],
          files: {
            'reconcile.mjs': { source: 'scripts/reconcile.mjs' },
            'prediction.json': json(state.prediction),
            'measurement.json': json(state.measurement),
            'target.json': TARGET_FILE,
          },
          timeLimitMinutes: 5,
        },
      ],
    };
  }
  return null;
}

export function analyze(raw: JsonValue | null, results: Record<string, TaskResult>): JsonValue {
  const state = raw as ThinFilmState | null;
  let next: ThinFilmState;
  if (state === null) next = { stage: 'experiment', prediction: dataOf('predict', results.predict), measurement: null, reconciliation: null };
  else if (state.stage === 'experiment') next = { ...state, stage: 'reconcile', measurement: dataOf('deposit', results.deposit) };
  else next = { ...state, stage: 'done', reconciliation: dataOf('reconcile', results.reconcile) };
  return next;
}

const campaign: Campaign = { plan, analyze };
export default campaign;
