import type { JsonValue } from '../events/json.ts';
import type { AttemptStatus, RunStatus, TaskStatus } from '../events/statuses.ts';
import type { TaskSpec } from '../events/workflow.ts';

/** The run's view of a task's current attempt (the attempt actor holds the rest). */
export interface CurrentAttempt {
  id: string;
  operatorKey: string;
  status: AttemptStatus;
}

/** One task of any workflow planned so far. */
export interface TaskEntry {
  spec: TaskSpec;
  iteration: number;
  status: TaskStatus;
  reason?: string;
  /** Attempts created so far: the next one is `<taskId>-a<attempts+1>`. */
  attempts: number;
  /** Automatic retries made so far (`retries: N` in the spec); reset by rerun/revive. */
  retried?: number;
  /** null before the first dispatch and after a rerun reset the task to PENDING. */
  current: CurrentAttempt | null;
}

/**
 * A slice of one workflow. Why buckets: immer copies every object on the path of a change, so
 * one report must touch a bucket of ≤ BUCKET_SIZE tasks, never a flat map of the whole run.
 * `ids` keeps workflow order explicitly (object key order puts integer-like ids first).
 */
export interface Bucket {
  iteration: number;
  ids: readonly string[];
  tasks: Record<string, TaskEntry>;
}

/** An attempt occupying a slot: few of them (≤ global cap), so a flat map is cheap. */
export interface ActiveAttempt {
  taskId: string;
  operatorKey: string;
}

export interface RunContext {
  workspace: string;
  status: RunStatus;
  /** Why the run is FAILED (lists failed tasks) or CANCELLED. */
  reason: string | null;
  /** Iteration of the current workflow; -1 before the first plan. */
  iteration: number;
  campaignState: JsonValue;
  /** Set while `campaign.analyzeAndPlan` is outstanding: the iteration CAMPAIGN.PLANNED must carry. */
  awaitingPlan: number | null;
  maxConcurrent: number | null;
  operatorCaps: Record<string, number | null>;
  configuredOperators: readonly string[];
  envOperator?: string;
  defaultOperator: string;
  /**
   * Buckets in groups (group key → bucket key → bucket): one report copies its bucket's tasks,
   * its group (≤ GROUP_SIZE buckets) and the few groups — not a record of every bucket of the run
   * (782 at 100k tasks). Read them through `bucketOf`.
   */
  buckets: Record<string, Record<string, Bucket>>;
  /** Bucket key → its group key; written once per bucket, when its workflow is planned. */
  bucketGroup: Record<string, string>;
  bucketOrder: readonly string[];
  /** Task id → bucket key; written once per task, when its workflow is planned. */
  taskBucket: Record<string, string>;
  /** Task id → ids of the tasks that depend on it (precomputed at plan time, across workflows). */
  dependants: Record<string, readonly string[]>;
  active: Record<string, ActiveAttempt>;
}

export const BUCKET_SIZE = 128;
/** Buckets per group (see `RunContext.buckets`). */
export const GROUP_SIZE = 64;
export const DEFAULT_MAX_CONCURRENT = 10;

/** The task entry for `taskId`, or undefined when no workflow of the run has it. */
export function getTask(ctx: RunContext, taskId: string): TaskEntry | undefined {
  const key = ctx.taskBucket[taskId];
  return key === undefined ? undefined : bucketOf(ctx, key)?.tasks[taskId];
}

/** The bucket with key `key` (`<iteration>.<n>`), or undefined. */
export function bucketOf(ctx: Pick<RunContext, 'buckets' | 'bucketGroup'>, key: string): Bucket | undefined {
  const group = ctx.bucketGroup[key];
  return group === undefined ? undefined : ctx.buckets[group]?.[key];
}

/** Every task in stable order: workflow by workflow, in the order each workflow listed them. */
export function* tasksInOrder(ctx: RunContext): Generator<TaskEntry> {
  for (const key of ctx.bucketOrder) {
    const bucket = bucketOf(ctx, key);
    if (bucket === undefined) continue;
    for (const id of bucket.ids) {
      const entry = bucket.tasks[id];
      if (entry !== undefined) yield entry;
    }
  }
}

/**
 * `ctx` with the entry of `taskId` replaced, copying only its path (bucket tasks, bucket, group,
 * groups, context) — what immer would copy, without its proxies: the hot path of every report.
 */
export function withTask(ctx: RunContext, taskId: string, entry: TaskEntry): RunContext {
  const key = ctx.taskBucket[taskId];
  const groupKey = key === undefined ? undefined : ctx.bucketGroup[key];
  const group = groupKey === undefined ? undefined : ctx.buckets[groupKey];
  const bucket = group === undefined || key === undefined ? undefined : group[key];
  if (bucket === undefined || groupKey === undefined || key === undefined || group === undefined) throw new Error(`internal: unknown task ${taskId}`);
  const tasks = { ...bucket.tasks, [taskId]: entry };
  replacedIn.set(tasks, { from: bucket.tasks, taskId });
  const nextBucket: Bucket = { ...bucket, tasks };
  return { ...ctx, buckets: { ...ctx.buckets, [groupKey]: { ...group, [key]: nextBucket } } };
}

/**
 * Provenance of the bucket task maps `withTask` made: which map it copied and the one id it
 * replaced. Lets `changes.ts` find the tasks a transition touched without comparing every task of
 * the bucket (a report replaces one). Maps made any other way (immer) have none.
 */
const replacedIn = new WeakMap<object, { from: object; taskId: string }>();

/**
 * The ids `withTask` replaced on the way from `before` to `after` (bucket task maps), or
 * undefined when `after` was not derived from `before` by `withTask` alone.
 */
export function replacedTaskIds(before: object, after: object): string[] | undefined {
  const ids: string[] = [];
  let cursor: object = after;
  while (cursor !== before) {
    const step = replacedIn.get(cursor);
    if (step === undefined) return undefined;
    ids.push(step.taskId);
    cursor = step.from;
  }
  return ids;
}

/** The mutable entry of `taskId` inside an immer draft; throws on an unknown id (a bug, not input). */
export function draftTask(draft: RunContext, taskId: string): TaskEntry {
  const entry = getTask(draft, taskId);
  if (entry === undefined) throw new Error(`internal: unknown task ${taskId}`);
  return entry;
}

/** True when the task has an attempt occupying a slot. */
export function isTaskActive(ctx: RunContext, entry: TaskEntry): boolean {
  return entry.current !== null && ctx.active[entry.current.id] !== undefined;
}

/** The task id and 1-based number encoded in an attempt id (`<taskId>-a<n>`), or undefined. */
export function parseAttemptId(attemptId: string): { taskId: string; n: number } | undefined {
  const match = /^(.+)-a(\d+)$/.exec(attemptId);
  if (match === null || match[1] === undefined || match[2] === undefined) return undefined;
  return { taskId: match[1], n: Number(match[2]) };
}
