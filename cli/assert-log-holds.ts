import type { RunStore } from '../host/run-store.ts';
import { MatterStackError } from '../events/errors.ts';

/**
 * Refuses to show runs the projections hold but the log does not (up to their sequence): what
 * projections that outlived a lost or replaced log would show is no run at all. STORAGE_ERROR
 * naming both files and the runs.
 */
export async function assertLogHolds(store: RunStore, projected: readonly { runId: string; lastSeq: number }[]): Promise<void> {
  if (projected.length === 0) return;
  const [only] = projected;
  const logged =
    projected.length === 1 && only !== undefined
      ? new Map([[only.runId, await store.log.lastSeq(only.runId)]])
      : new Map((await store.log.listRuns()).map((run) => [run.runId, run.lastSeq]));
  const missing = projected.filter((run) => (logged.get(run.runId) ?? 0) < run.lastSeq).map((run) => run.runId);
  if (missing.length === 0) return;
  const shown = missing.length > 5 ? `${missing.slice(0, 5).join(', ')}, …` : missing.join(', ');
  throw new MatterStackError(
    'STORAGE_ERROR',
    `the projections ${store.projectionsFile} hold ${missing.length} run(s) the event log ${store.logName} does not have (${shown}): the log is missing or empty (lost or replaced?); restore it from a backup, or run "matterstack projections rebuild" to drop those runs`,
    { file: store.logName, runIds: missing },
  );
}
