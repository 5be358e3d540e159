import type { JsonValue } from '../../events/json.ts';
import type { AttemptStatus, TaskStatus } from '../../events/statuses.ts';
import type { WorkflowInput } from '../../events/workflow.ts';

/** What `analyze` receives for one task of the finished workflow (SPEC §1). */
export interface TaskResult {
  status: TaskStatus | AttemptStatus;
  /** Output path relative to the attempt directory → absolute path. */
  files?: Record<string, string>;
  /** Structured output: results.json, a response's data, or the data a gate was approved / rejected with (`--data`). */
  data?: JsonValue;
  /** Gate tasks decided with `approve` / `reject`: the decision, who made it and the comment. */
  decision?: { verb: 'approved' | 'rejected'; by?: string; comment?: string };
}

/** A campaign: user code that plans workflows and analyzes their results. */
export interface Campaign {
  /** The next workflow, or null when the campaign is finished (state is null on the first call). */
  plan(state: JsonValue | null): WorkflowInput | null | Promise<WorkflowInput | null>;
  /** The new campaign state (JSON) given the results of the workflow just finished. */
  analyze(state: JsonValue | null, results: Record<string, TaskResult>): JsonValue | Promise<JsonValue>;
  /** How many workflows the run may plan before it fails as spinning (default DEFAULT_MAX_ITERATIONS). */
  maxIterations?: number;
}
