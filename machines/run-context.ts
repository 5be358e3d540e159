import type { JsonValue } from '../events/json.ts';
import { TERMINAL_TASK_STATUSES, type AttemptStatus, type RunStatus, type TaskStatus } from '../events/statuses.ts';
import type { TaskSpec } from '../events/workflow.ts';
import { EMPTY_SLOT_SET, editSlotSet, hasSlot, type SlotSet } from './slot-set.ts';

/** The run's view of a task's current attempt (the attempt actor holds the rest). */
export interface CurrentAttempt {
  id: string;
  operatorKey: string;
  status: AttemptStatus;
  /** The decision accepted on this gate attempt: it takes exactly one (a later one is GATE_ALREADY_DECIDED). */
  decision?: GateDecision;
}

/** An accepted approve or reject, as later refusals name it. */
export interface GateDecision {
  verb: 'approved' | 'rejected';
  by?: string;
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
 * A slice of one workflow. Why buckets: a report must copy a bucket of ≤ BUCKET_SIZE tasks, never
 * the whole run. Arrays, not records keyed by task id: a record of 128 ids is a dictionary-mode
 * object that V8 copies ~300× slower than an array (22 µs per report, measured).
 * `tasks[i]` is the entry of `ids[i]`, in workflow order.
 */
export interface Bucket {
  iteration: number;
  ids: readonly string[];
  tasks: readonly TaskEntry[];
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
  /** RUN.CREATED's cap on planned workflows; absent: DEFAULT_MAX_ITERATIONS (rules/iteration-limit.ts). */
  maxIterations?: number;
  defaultOperator: string;
  /**
   * Buckets in groups of GROUP_SIZE, in plan order (bucket n is `buckets[n / GROUP_SIZE][n %
   * GROUP_SIZE]`): one report copies its bucket, its group and the short list of groups — not a
   * list of every bucket of the run (782 at 100k tasks). Each workflow starts a new bucket.
   */
  buckets: readonly (readonly Bucket[])[];
  /** Task id → its slot (bucket number × BUCKET_SIZE + index in the bucket); written once per task, when planned. */
  taskSlot: Record<string, number>;
  /** Task id → ids of the tasks that depend on it (precomputed at plan time, across workflows). */
  dependants: Record<string, readonly string[]>;
  active: Record<string, ActiveAttempt>;
}

export const BUCKET_SIZE = 128;
/** Buckets per group (see `RunContext.buckets`). */
export const GROUP_SIZE = 64;
export const DEFAULT_MAX_CONCURRENT = 10;

/** Where the task of `slot` lives: group, bucket in the group, index in the bucket. */
function locate(slot: number): { group: number; position: number; index: number } {
  const bucket = Math.floor(slot / BUCKET_SIZE);
  return { group: Math.floor(bucket / GROUP_SIZE), position: bucket % GROUP_SIZE, index: slot % BUCKET_SIZE };
}

/** The task entry for `taskId`, or undefined when no workflow of the run has it. */
export function getTask(ctx: Pick<RunContext, 'buckets' | 'taskSlot'>, taskId: string): TaskEntry | undefined {
  const slot = ctx.taskSlot[taskId];
  return slot === undefined ? undefined : taskAtSlot(ctx, slot);
}

/** The task entry at `slot` (see `RunContext.taskSlot`), or undefined. */
export function taskAtSlot(ctx: Pick<RunContext, 'buckets'>, slot: number): TaskEntry | undefined {
  const { group, position, index } = locate(slot);
  return ctx.buckets[group]?.[position]?.tasks[index];
}

/** Every bucket in plan order. */
export function* bucketsInOrder(ctx: Pick<RunContext, 'buckets'>): Generator<Bucket> {
  for (const group of ctx.buckets) yield* group;
}

/** Every task in stable order: workflow by workflow, in the order each workflow listed them. */
export function* tasksInOrder(ctx: Pick<RunContext, 'buckets'>): Generator<TaskEntry> {
  for (const group of ctx.buckets) for (const bucket of group) yield* bucket.tasks;
}

/** True when the task waits for a dispatch: PENDING with no attempt (dependencies not considered). */
export function awaitsDispatch(entry: TaskEntry): boolean {
  return entry.status === 'PENDING' && entry.current === null;
}

/** True when the task ended without completing (FAILED, CANCELLED, SKIPPED): its dependants may never run. */
export function endedUncompleted(entry: TaskEntry): boolean {
  return entry.status !== 'COMPLETED' && TERMINAL_TASK_STATUSES.includes(entry.status);
}

/** Per bucket task list: how many tasks await a dispatch, and how many ended without completing. */
interface Tally {
  awaiting: number;
  uncompleted: number;
}

/**
 * The tally of each bucket task list (lists are never mutated once made, immer's included): lets a
 * cycle skip whole buckets instead of rescanning every task of the run (a 100k fan-out steps
 * hundreds of times with no task left to dispatch; a 200-task chain steps 200 times).
 */
const tallies = new WeakMap<readonly TaskEntry[], Tally>();

function tallyOf(tasks: readonly TaskEntry[]): Tally {
  let tally = tallies.get(tasks);
  if (tally === undefined) {
    tally = { awaiting: 0, uncompleted: 0 };
    for (const entry of tasks) {
      if (awaitsDispatch(entry)) tally.awaiting += 1;
      else if (endedUncompleted(entry)) tally.uncompleted += 1;
    }
    tallies.set(tasks, tally);
  }
  return tally;
}

/** The tally of a list that differs from one with `before`'s tally by one entry, `replaced` → `entry`. */
function tallyAfter(before: Tally, replaced: TaskEntry, entry: TaskEntry): Tally {
  return {
    awaiting: before.awaiting - Number(awaitsDispatch(replaced)) + Number(awaitsDispatch(entry)),
    uncompleted: before.uncompleted - Number(endedUncompleted(replaced)) + Number(endedUncompleted(entry)),
  };
}

/** Every task awaiting a dispatch (see `awaitsDispatch`), in the stable order of `tasksInOrder`. */
export function* tasksAwaitingDispatch(ctx: Pick<RunContext, 'buckets'>): Generator<TaskEntry> {
  for (const group of ctx.buckets) {
    for (const bucket of group) {
      if (tallyOf(bucket.tasks).awaiting === 0) continue;
      for (const entry of bucket.tasks) if (awaitsDispatch(entry)) yield entry;
    }
  }
}

/** True when some task of the run ended without completing (see `endedUncompleted`). */
export function anyEndedUncompleted(ctx: Pick<RunContext, 'buckets'>): boolean {
  for (const group of ctx.buckets) for (const bucket of group) if (tallyOf(bucket.tasks).uncompleted > 0) return true;
  return false;
}

/**
 * `ctx` with the entry of `taskId` replaced, copying only its path (bucket tasks, bucket, group,
 * groups, context) — what immer would copy, without its proxies: the hot path of every report.
 */
export function withTask(ctx: RunContext, taskId: string, entry: TaskEntry): RunContext {
  const slot = ctx.taskSlot[taskId];
  if (slot === undefined) throw new Error(`internal: unknown task ${taskId}`);
  const { group, position, index } = locate(slot);
  const groupBefore = ctx.buckets[group];
  const bucket = groupBefore?.[position];
  if (groupBefore === undefined || bucket === undefined) throw new Error(`internal: no bucket for task ${taskId}`);
  const tasks = bucket.tasks.slice();
  const replaced = tasks[index] as TaskEntry;
  tasks[index] = entry;
  const tallyBefore = tallies.get(bucket.tasks);
  if (tallyBefore !== undefined) tallies.set(tasks, tallyAfter(tallyBefore, replaced, entry));
  trails.set(tasks, [[index, listId(bucket.tasks)], ...(trails.get(bucket.tasks) ?? []).slice(0, MAX_TRAIL - 1)]);
  const groupAfter = groupBefore.slice();
  groupAfter[position] = { iteration: bucket.iteration, ids: bucket.ids, tasks };
  const buckets = ctx.buckets.slice();
  buckets[group] = groupAfter;
  const next = { ...ctx, buckets };
  carryTaskCandidates(ctx, next, taskId, slot, entry);
  return next;
}

/**
 * `ctx` with several entries replaced (a dispatch of many tasks): each touched bucket, group and
 * the group list copied once. The copies carry no provenance: `changes.ts` compares their tasks.
 */
export function withTasks(ctx: RunContext, entries: ReadonlyMap<string, TaskEntry>): RunContext {
  if (entries.size === 0) return ctx;
  const buckets = ctx.buckets.slice();
  const copiedGroups = new Set<number>();
  const copiedTasks = new Map<Bucket, TaskEntry[]>();
  for (const [taskId, entry] of entries) {
    const slot = ctx.taskSlot[taskId];
    if (slot === undefined) throw new Error(`internal: unknown task ${taskId}`);
    const { group, position, index } = locate(slot);
    let groupList = buckets[group] as Bucket[] | undefined;
    if (groupList === undefined) throw new Error(`internal: no bucket for task ${taskId}`);
    if (!copiedGroups.has(group)) {
      groupList = groupList.slice();
      buckets[group] = groupList;
      copiedGroups.add(group);
    }
    const bucket = groupList[position];
    if (bucket === undefined) throw new Error(`internal: no bucket for task ${taskId}`);
    let tasks = copiedTasks.get(bucket);
    if (tasks === undefined) {
      tasks = bucket.tasks.slice();
      const copy: Bucket = { iteration: bucket.iteration, ids: bucket.ids, tasks };
      copiedTasks.set(copy, tasks);
      groupList[position] = copy;
    }
    tasks[index] = entry;
  }
  const next = { ...ctx, buckets };
  carryDispatchCandidates(ctx, next, entries.keys());
  return next;
}

/**
 * The dispatch candidates of each version of `RunContext.buckets`: slots of tasks that may be
 * ready, a superset of those awaiting a dispatch with their dependencies satisfied. Why:
 * `planDispatch` runs every cycle and, in a deep DAG, nearly every waiting task is blocked:
 * rescanning them all made a chain quadratic. Beside the context, like the tallies, not in it:
 * readiness is a function of the tasks, so contexts sharing buckets share candidates, old contexts
 * keep theirs, and the context (its JSON, its replay) is unchanged. A version missing here (a
 * context made some other way) starts from every task awaiting a dispatch.
 */
const candidateSets = new WeakMap<RunContext['buckets'], SlotSet>();

/** The dispatch candidates of `ctx` (see `candidateSets`); iterate them with `slotsOf`, in workflow order. */
export function dispatchCandidates(ctx: RunContext): SlotSet {
  let set = candidateSets.get(ctx.buckets);
  if (set === undefined) {
    set = awaitingSlots(ctx);
    candidateSets.set(ctx.buckets, set);
  }
  return set;
}

function awaitingSlots(ctx: RunContext): SlotSet {
  return editSlotSet(EMPTY_SLOT_SET, (add) => {
    for (const entry of tasksAwaitingDispatch(ctx)) add(ctx.taskSlot[entry.spec.id] as number);
  });
}

/**
 * Forgets candidates of `ctx` found not ready. Safe for this very context: its tasks never change,
 * and a task only becomes ready when it is reset or a dependency ends, which re-adds it.
 */
export function dropDispatchCandidates(ctx: RunContext, slots: readonly number[]): void {
  if (slots.length === 0) return;
  candidateSets.set(ctx.buckets, editSlotSet(dispatchCandidates(ctx), (_add, remove) => slots.forEach(remove)));
}

/**
 * Derives the candidates of `after` from those of `before`, for a transition that changed (or
 * added) only the tasks `taskIds`: a changed task is a candidate while it awaits a dispatch, and
 * a task ending (a terminal status) makes its waiting dependants candidates — the only ways a task
 * becomes ready. Call it from every transition that makes new buckets.
 */
export function carryDispatchCandidates(before: RunContext, after: RunContext, taskIds: Iterable<string>): void {
  const set = candidateSets.get(before.buckets);
  if (set === undefined || before.buckets === after.buckets) return;
  const next = editSlotSet(set, (add, remove) => {
    for (const taskId of taskIds) {
      const slot = after.taskSlot[taskId] as number;
      const entry = taskAtSlot(after, slot) as TaskEntry;
      if (awaitsDispatch(entry)) add(slot);
      else remove(slot);
      if (!endsNow(before, taskId, entry)) continue;
      for (const dependant of after.dependants[taskId] ?? []) {
        const dependantSlot = after.taskSlot[dependant] as number;
        if (awaitsDispatch(taskAtSlot(after, dependantSlot) as TaskEntry)) add(dependantSlot);
      }
    }
  });
  candidateSets.set(after.buckets, next);
}

/** True when task `taskId`, now `now`, reached a terminal status since `before`: its dependants may be ready. */
function endsNow(before: RunContext, taskId: string, now: TaskEntry): boolean {
  return TERMINAL_TASK_STATUSES.includes(now.status) && getTask(before, taskId)?.status !== now.status;
}

/** `carryDispatchCandidates` for one task (a report): most reports leave the candidates as they are. */
function carryTaskCandidates(before: RunContext, after: RunContext, taskId: string, slot: number, now: TaskEntry): void {
  const set = candidateSets.get(before.buckets);
  if (set === undefined) return;
  const wakes = (after.dependants[taskId]?.length ?? 0) > 0 && endsNow(before, taskId, now);
  if (awaitsDispatch(now) || wakes || hasSlot(set, slot)) carryDispatchCandidates(before, after, [taskId]);
  else candidateSets.set(after.buckets, set);
}

/**
 * Provenance of the bucket task lists `withTask` made, newest first: the index it replaced and the
 * id of the list it copied, then the same for that list, up to MAX_TRAIL steps. Lets `changes.ts`
 * find the tasks a transition touched without comparing every task of the bucket (a report
 * replaces one). Ids, not the lists themselves: a chain of references kept every earlier copy of
 * every bucket alive (~1 KB per report, 80 MB at 50k tasks). Lists made any other way (immer) have none.
 */
const trails = new WeakMap<object, readonly (readonly [index: number, fromId: number])[]>();
const listIds = new WeakMap<object, number>();
const MAX_TRAIL = 16;
let nextListId = 0;

function listId(list: object): number {
  let id = listIds.get(list);
  if (id === undefined) {
    id = nextListId++;
    listIds.set(list, id);
  }
  return id;
}

/**
 * The indexes `withTask` replaced on the way from `before` to `after` (bucket task lists), or
 * undefined when `after` was not derived from `before` by (at most MAX_TRAIL) `withTask` calls alone.
 */
export function replacedTaskIndexes(before: object, after: object): number[] | undefined {
  if (before === after) return [];
  const beforeId = listIds.get(before);
  if (beforeId === undefined) return undefined;
  const indexes: number[] = [];
  for (const [index, fromId] of trails.get(after) ?? []) {
    indexes.push(index);
    if (fromId === beforeId) return indexes;
  }
  return undefined;
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
