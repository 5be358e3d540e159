/**
 * How runs are spread over the live workers (pure decisions; the worker feeds them what the
 * presence bucket and the run registry say). Goal: no worker hosts more than
 * ceil(runs / workers) + 1, and a run whose host died is never left unhosted because every
 * live worker believes it has its share.
 */

/** Scans in a row a run must be seen without a lease before the least loaded worker takes it beyond its share. */
export const ORPHAN_SCANS = 2;
/** Scans in a row after which any worker takes a run still without a lease (loads it read may be stale). */
export const STUCK_SCANS = 4;

/** The most runs one worker should host: an even share, rounded up. */
export function fairShare(runs: number, workers: number): number {
  return Math.ceil(runs / Math.max(1, workers));
}

/** Runs hosted by each live worker, by worker id. */
export type WorkerLoads = ReadonlyMap<string, number>;

/** True when `self` (hosting `hosted` now) hosts no more than any other live worker. */
export function isLeastLoaded(self: string, hosted: number, loads: WorkerLoads): boolean {
  for (const [workerId, load] of loads) if (workerId !== self && load < hosted) return false;
  return true;
}

/** Facts a worker weighs before taking a run nobody holds a lease on. */
export interface TakeQuestion {
  self: string;
  /** Runs it hosts now. */
  hosted: number;
  /** Active runs in the registry. */
  runs: number;
  /** Live workers' loads (itself included or not: it counts as live either way). */
  loads: WorkerLoads;
  /** Scans in a row that saw this run without a lease (1 = only this one). */
  unleasedScans: number;
}

/** Live workers, counting `self` even when its own presence entry is missing. */
export function liveWorkers(self: string, loads: WorkerLoads): number {
  return loads.size + (loads.has(self) ? 0 : 1);
}

/**
 * Whether to take an unleased run: within its fair share always; beyond it only for a run left
 * unleased over several scans (its host died and the others are full), first by the least
 * loaded worker, then by anyone, so a lapsed run never stays unhosted.
 */
export function mayTakeRun(q: TakeQuestion): boolean {
  if (q.hosted < fairShare(q.runs, liveWorkers(q.self, q.loads))) return true;
  if (q.unleasedScans >= STUCK_SCANS) return true;
  return q.unleasedScans >= ORPHAN_SCANS && isLeastLoaded(q.self, q.hosted, q.loads);
}

/**
 * Where a new run should go: undefined to host it here (within its share of the runs, the new
 * one counted), else the least loaded other live worker, when it hosts fewer than `self`.
 */
export function initTarget(self: string, hosted: number, runs: number, loads: WorkerLoads): string | undefined {
  if (hosted < fairShare(runs + 1, liveWorkers(self, loads))) return undefined;
  let best: { workerId: string; load: number } | undefined;
  for (const [workerId, load] of loads) {
    if (workerId === self || load >= hosted) continue;
    if (best === undefined || load < best.load) best = { workerId, load };
  }
  return best?.workerId;
}
