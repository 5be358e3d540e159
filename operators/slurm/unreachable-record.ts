import { rm } from 'node:fs/promises';
import path from 'node:path';
import { readJsonFile, writeFileAtomic } from '../atomic-file.ts';
import type { ClusterHealth } from './slurm-poller.ts';
import { SLURM_FILES } from './batch-script.ts';

/** What `cluster_unreachable.json` in an attempt directory holds. */
export interface UnreachableRecord {
  since: string;
  retries: number;
  error: string;
}

/**
 * The outage recorded in an attempt directory, as one line for `explain`
 * ("cluster unreachable since <time>, retry <n>: <error>"), or null when there is none.
 */
export async function describeUnreachable(attemptDir: string): Promise<string | null> {
  const record = await readJsonFile<UnreachableRecord>(path.join(attemptDir, SLURM_FILES.unreachable));
  if (record === null || typeof record.since !== 'string') return null;
  return `cluster unreachable since ${record.since}, retry ${record.retries}${record.error ? `: ${record.error}` : ''}`;
}

/** Keeps `cluster_unreachable.json` of each attempt in step with the cluster's health, writing only on change. */
export class UnreachableRecorder {
  private readonly written = new Map<string, number>();
  private readonly checked = new Set<string>();

  /** Records the outage (once per retry count) in the attempt directory. */
  async record(attemptId: string, attemptDir: string, health: ClusterHealth, error: unknown): Promise<void> {
    if (health.unreachableSince === null || this.written.get(attemptId) === health.retries) return;
    this.written.set(attemptId, health.retries);
    const record: UnreachableRecord = { since: health.unreachableSince, retries: health.retries, error: error instanceof Error ? error.message : String(error) };
    // Best effort: the record only tells a person why polling stalls; the poller retries either way.
    await writeFileAtomic(path.join(attemptDir, SLURM_FILES.unreachable), `${JSON.stringify(record)}\n`).catch(() => undefined);
  }

  /** Removes the record once the cluster answers (also one left by an instance before a restart). */
  async clear(attemptId: string, attemptDir: string): Promise<void> {
    const wrote = this.written.delete(attemptId);
    if (!wrote && this.checked.has(attemptId)) return;
    this.checked.add(attemptId);
    await rm(path.join(attemptDir, SLURM_FILES.unreachable), { force: true });
  }
}
