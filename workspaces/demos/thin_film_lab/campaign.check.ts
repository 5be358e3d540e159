/**
 * `matterstack check demos/thin_film_lab`: what the prediction, the lab robot (an external task)
 * and the reconciliation report, and that the campaign goes through its stages in order.
 */
import { fc, type WorkspaceChecks } from '../../../testing/index.ts';
import type { JsonValue } from '../../../index.ts';

const positive = fc.double({ min: 1, max: 500, noNaN: true });
const predicted: fc.Arbitrary<JsonValue> = fc.record({ power_W: positive, time_s: positive, substrate_temp_C: positive, thickness_nm: positive });
const measured: fc.Arbitrary<JsonValue> = fc.record({ thickness_nm: positive, sheet_resistance_ohm_sq: positive });
const reconciled: fc.Arbitrary<JsonValue> = fc.record({ thickness_error_nm: fc.double({ min: -100, max: 100, noNaN: true }) });

const STAGES = ['experiment', 'reconcile', 'done'];
type State = { stage: string } | null;

const checks: WorkspaceChecks<State> = {
  results: (task) => ({ predict: predicted, deposit: measured, reconcile: reconciled })[task.id],
  invariants: [
    function stagesInOrder(state, run) {
      const previous = run.previousState as State;
      return state === null || STAGES.indexOf(state.stage) === (previous === null ? 0 : STAGES.indexOf(previous.stage) + 1);
    },
  ],
};
export default checks;
