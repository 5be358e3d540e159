// How a page keeps what it loaded current from the live feed's deltas (pure: no DOM, no fetch).

/** A run's change since seq `fromSeq` (the server's web/live-deltas.ts): current header, counts, and touched rows. */
export interface RunDelta<TTask = unknown, TAttempt = unknown> {
  runId: string;
  fromSeq: number;
  toSeq: number;
  /** When record toSeq was logged. */
  toTime: string;
  run: Record<string, unknown> & { counts: Record<string, number> };
  tasks: TTask[];
  /** Absent when the page did not ask for this run's attempt rows (it shows no timeline of it). */
  attempts?: TAttempt[];
  campaignState?: unknown;
}

/** What to do with a delta for (fromSeq, toSeq] given state loaded as of `lastSeq`. */
export type DeltaStep = 'skip' | 'apply' | 'reload';

/**
 * Skip what the state already has; apply what starts at or before it; reload past a gap (missed
 * records) or when the delta lacks the rows the state keeps (`carries` false: attempts a page
 * asked for, heard before its stream was opened again with the ask).
 */
export function deltaStep(lastSeq: number, delta: { fromSeq: number; toSeq: number }, carries = true): DeltaStep {
  if (delta.toSeq <= lastSeq) return 'skip';
  return delta.fromSeq > lastSeq || !carries ? 'reload' : 'apply';
}

/**
 * Each rows array's index (key → position), handed on to the array that replaces it: an upsert then
 * costs its changed rows, not the run's size (10,000 tasks, a delta every 250 ms, on every open page).
 */
const indexes = new WeakMap<readonly unknown[], Map<string, number>>();

/** `rows`'s index (key → position), handed on by upsertRows or built once: a lookup by key without a map rebuilt per delta. */
export function rowIndex<T>(rows: readonly T[], key: (row: T) => string): ReadonlyMap<string, number> {
  let index = indexes.get(rows);
  if (index === undefined) indexes.set(rows, (index = new Map(rows.map((row, i) => [key(row), i]))));
  return index;
}

/** `rows` with each of `changed` put in place of the row with its key, or added at the end; `onRow` hears each (the row it replaces, if any). */
export function upsertRows<T>(rows: readonly T[], changed: readonly T[], key: (row: T) => string, onRow?: (old: T | undefined, row: T) => void): T[] {
  const index = rowIndex(rows, key) as Map<string, number>;
  // The index follows the new array; the old one, if upserted again, builds its own.
  indexes.delete(rows);
  const next = [...rows];
  for (const row of changed) {
    const at = index.get(key(row));
    onRow?.(at === undefined ? undefined : next[at], row);
    if (at === undefined) {
      index.set(key(row), next.length);
      next.push(row);
    } else next[at] = row;
  }
  indexes.set(next, index);
  return next;
}

/** What of a task places it in the DAG. */
interface Placed {
  id: string;
  iteration?: number | null;
  dependencies?: readonly string[];
}

/** Whether `a` and `b` sit at the same place in the DAG (a re-planned task may change its dependencies). */
function placedAlike(a: Placed, b: Placed): boolean {
  const [x, y] = [a.dependencies ?? [], b.dependencies ?? []];
  return a.iteration === b.iteration && x.length === y.length && x.every((dep, i) => dep === y[i]);
}

/** A run as the run page keeps it: its seq, when that record was logged, and its tasks. */
export interface RunState<TTask extends Placed> {
  lastSeq: number;
  /** When record lastSeq was logged (the run's updatedAt after a full load). */
  seqTime?: string | null;
  tasks: TTask[];
  counts: Record<string, number>;
  campaignState?: unknown;
  /**
   * Replaced (by a new object) whenever a task is added or moves in the DAG, and by each full load:
   * the DAG is laid out again only then, a status change only recolours it.
   */
  structure?: object;
}

/** `run` after `delta`: the new header and counts, the touched tasks replaced or added. */
export function applyRunDelta<TTask extends Placed, TRun extends RunState<TTask>>(run: TRun, delta: RunDelta<TTask>): TRun {
  let structure = run.structure;
  const tasks = upsertRows(run.tasks, delta.tasks, (t) => t.id, (old, task) => {
    if (old === undefined || !placedAlike(old, task)) structure = {};
  });
  return {
    ...run,
    ...delta.run,
    lastSeq: delta.toSeq,
    seqTime: delta.toTime,
    tasks,
    ...(structure === undefined ? {} : { structure }),
    ...('campaignState' in delta ? { campaignState: delta.campaignState } : {}),
  };
}

/** A run's attempts as the timeline keeps them. */
export interface AttemptsState<TAttempt extends { attemptId: string }> {
  lastSeq: number;
  attempts: TAttempt[];
}

/** `state` after `delta` (one that carries attempts: deltaStep's `carries`): the touched attempts replaced or added. */
export function applyAttemptsDelta<TAttempt extends { attemptId: string }>(state: AttemptsState<TAttempt>, delta: RunDelta<unknown, TAttempt>): AttemptsState<TAttempt> {
  return { lastSeq: delta.toSeq, attempts: upsertRows(state.attempts, delta.attempts ?? [], (a) => a.attemptId) };
}
