import type { JsonValue } from '../events/json.ts';
import type { AttemptStatus, TaskStatus } from '../events/statuses.ts';
import type { WorkflowInput } from '../events/workflow.ts';

/** What `analyze` receives for one task of the finished workflow (SPEC §1); `Data`: the type of its `data`. */
export interface TaskResult<Data = JsonValue> {
  status: TaskStatus | AttemptStatus;
  /** Output path relative to the attempt directory → absolute path. */
  files?: Record<string, string>;
  /** Structured output: results.json, a response's data, or the data a gate was approved / rejected with (`--data`). */
  data?: Data;
  /**
   * Gate tasks decided with `approve` / `reject`: the decision, who made it and the comment. `by`: the
   * name the issuer gave (`--by`, $USER); `principal`: who was authenticated (NATS user, OS account).
   * Decisions recorded before `principal` existed have `by` only, as text (`alice (as scientist)`).
   */
  decision?: { verb: 'approved' | 'rejected'; by?: string; principal?: string; comment?: string };
}

/**
 * A campaign: user code that plans workflows and analyzes their results. `State` is what
 * `analyze` returns and `plan` receives; `Data` the type of the tasks' result data. Both are
 * copied as JSON (a value that is not JSON fails the run with CAMPAIGN_ERROR).
 */
export interface Campaign<State = JsonValue, Data = JsonValue> {
  /** The next workflow, or null when the campaign is finished (state is null on the first call). */
  plan(state: State | null): WorkflowInput | null | Promise<WorkflowInput | null>;
  /** The new campaign state (JSON) given the results of the workflow just finished. */
  analyze(state: State | null, results: Record<string, TaskResult<Data>>): State | Promise<State>;
  /** How many workflows the run may plan before it fails as spinning (default DEFAULT_MAX_ITERATIONS). */
  maxIterations?: number;
}

/** Any campaign, whatever its types: how the host holds one (it only moves JSON in and out). */
export type AnyCampaign = Campaign<unknown, unknown>;
