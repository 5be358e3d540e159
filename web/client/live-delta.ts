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
  attempts: TAttempt[];
  campaignState?: unknown;
}

/** What to do with a delta for (fromSeq, toSeq] given state loaded as of `lastSeq`. */
export type DeltaStep = 'skip' | 'apply' | 'reload';

/** Skip what the state already has; apply what starts at or before it; reload past a gap (missed records). */
export function deltaStep(lastSeq: number, delta: { fromSeq: number; toSeq: number }): DeltaStep {
  if (delta.toSeq <= lastSeq) return 'skip';
  return delta.fromSeq > lastSeq ? 'reload' : 'apply';
}

/** `rows` with each of `changed` put in place of the row with its key, or added at the end. */
export function upsertRows<T>(rows: readonly T[], changed: readonly T[], key: (row: T) => string): T[] {
  if (changed.length === 0) return [...rows];
  const index = new Map(rows.map((row, i) => [key(row), i]));
  const next = [...rows];
  for (const row of changed) {
    const at = index.get(key(row));
    if (at === undefined) {
      index.set(key(row), next.length);
      next.push(row);
    } else next[at] = row;
  }
  return next;
}

/** A run as the run page keeps it: its seq, when that record was logged, and its tasks. */
export interface RunState<TTask extends { id: string }> {
  lastSeq: number;
  /** When record lastSeq was logged (the run's updatedAt after a full load). */
  seqTime?: string | null;
  tasks: TTask[];
  counts: Record<string, number>;
  campaignState?: unknown;
}

/** `run` after `delta`: the new header and counts, the touched tasks replaced or added. */
export function applyRunDelta<TTask extends { id: string }, TRun extends RunState<TTask>>(run: TRun, delta: RunDelta<TTask>): TRun {
  return {
    ...run,
    ...delta.run,
    lastSeq: delta.toSeq,
    seqTime: delta.toTime,
    tasks: upsertRows(run.tasks, delta.tasks, (t) => t.id),
    ...('campaignState' in delta ? { campaignState: delta.campaignState } : {}),
  };
}

/** A run's attempts as the timeline keeps them. */
export interface AttemptsState<TAttempt extends { attemptId: string }> {
  lastSeq: number;
  attempts: TAttempt[];
}

/** `state` after `delta`: the touched attempts replaced or added. */
export function applyAttemptsDelta<TAttempt extends { attemptId: string }>(state: AttemptsState<TAttempt>, delta: RunDelta<unknown, TAttempt>): AttemptsState<TAttempt> {
  return { lastSeq: delta.toSeq, attempts: upsertRows(state.attempts, delta.attempts, (a) => a.attemptId) };
}
