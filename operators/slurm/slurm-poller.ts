import type { CommandRunner } from './command-runner.ts';
import { isTransient } from './command-runner.ts';
import { parseSqueue, SQUEUE_FORMAT, type SlurmJobInfo } from './slurm-states.ts';

/** Options of a poller (one per configured Slurm operator, i.e. per cluster and worker). */
export interface SlurmPollerOptions {
  runner: CommandRunner;
  /** Poll interval (default 30 s). */
  intervalMs: number;
  /** Longest wait between polls while the cluster is unreachable (default 5 min). */
  maxBackoffMs?: number;
}

/** Cluster reachability as the last polls saw it (shown by explain/status). */
export interface ClusterHealth {
  /** ISO time of the first failure of the current outage; null when reachable. */
  unreachableSince: string | null;
  /** Failed attempts to reach the cluster in the current outage. */
  retries: number;
  lastError?: string;
}

/** argv of the one `squeue` that lists every job of the user, finished ones included (until MinJobAge). */
export const SQUEUE_ALL_ARGV = ['squeue', '--noheader', '--me', '--states=all', `--format=${SQUEUE_FORMAT}`];

/**
 * Batches status queries: ONE `squeue` per poll interval answers for every active job of this
 * operator, however many attempts are watched. Concurrent callers share the in-flight query,
 * and a snapshot younger than half an interval is reused (step mode polls each attempt in turn).
 * While the cluster is unreachable the interval backs off exponentially.
 */
export class SlurmPoller {
  private readonly options: SlurmPollerOptions;
  private snapshot: { at: number; jobs: Map<string, SlurmJobInfo> } | null = null;
  private inFlight: Promise<Map<string, SlurmJobInfo>> | null = null;
  private readonly subscribers = new Map<string, { tick: () => Promise<void>; onFailure?: (error: unknown) => Promise<void> }>();
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private health: ClusterHealth = { unreachableSince: null, retries: 0 };

  constructor(options: SlurmPollerOptions) {
    this.options = options;
  }

  get intervalMs(): number {
    return this.options.intervalMs;
  }

  /** Reachability of the cluster (explain shows "cluster unreachable since <time>, retry <n>"). */
  clusterHealth(): ClusterHealth {
    return { ...this.health };
  }

  /** Records the outcome of any cluster command (submit, cancel, poll) for the health view. */
  noteSuccess(): void {
    this.failures = 0;
    this.health = { unreachableSince: null, retries: 0 };
  }

  noteFailure(error: unknown): void {
    this.failures += 1;
    this.health = {
      unreachableSince: this.health.unreachableSince ?? new Date().toISOString(),
      retries: this.health.retries + 1,
      lastError: error instanceof Error ? error.message : String(error),
    };
  }

  /** Every job squeue knows for this user; one command per call unless a fresh snapshot exists. */
  async jobs(maxAgeMs = this.options.intervalMs / 2): Promise<Map<string, SlurmJobInfo>> {
    if (this.snapshot !== null && Date.now() - this.snapshot.at <= maxAgeMs) return this.snapshot.jobs;
    if (this.inFlight !== null) return this.inFlight;
    const query = (async () => {
      try {
        const result = await this.options.runner.run(SQUEUE_ALL_ARGV, { timeoutMs: 60_000 });
        if (result.code !== 0) throw new Error(`squeue failed (exit ${result.code}): ${result.stderr.trim()}`);
        const jobs = parseSqueue(result.stdout);
        this.snapshot = { at: Date.now(), jobs };
        this.noteSuccess();
        return jobs;
      } catch (error) {
        if (isTransient(error)) this.noteFailure(error);
        throw error;
      } finally {
        this.inFlight = null;
      }
    })();
    this.inFlight = query;
    return query;
  }

  /** Forgets the snapshot (after sbatch / scancel the next poll must ask again). */
  invalidate(): void {
    this.snapshot = null;
  }

  /**
   * Calls `tick` after each interval's squeue (once right away). Ticks of all subscribers
   * share that one squeue; when it fails (cluster unreachable) `onFailure` is called instead.
   * Returns the unsubscribe function.
   */
  subscribe(key: string, tick: () => Promise<void>, onFailure?: (error: unknown) => Promise<void>): () => void {
    this.subscribers.set(key, { tick, ...(onFailure ? { onFailure } : {}) });
    // Ticks log their own failures (SlurmOperator.watch) and the next interval retries: nothing more to tell here.
    void tick().catch(() => undefined);
    if (this.timer === undefined) this.schedule(this.options.intervalMs);
    return () => {
      this.subscribers.delete(key);
      if (this.subscribers.size === 0 && this.timer !== undefined) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
    };
  }

  /** Number of attempts watched. */
  get watched(): number {
    return this.subscribers.size;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => void this.round(), delayMs);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    let ok = true;
    try {
      await this.jobs(0);
    } catch (error) {
      ok = false;
      // No per-attempt command during an outage: subscribers only learn that the round failed.
      await Promise.allSettled([...this.subscribers.values()].map((s) => s.onFailure?.(error)));
    }
    if (ok) await Promise.allSettled([...this.subscribers.values()].map((s) => s.tick()));
    if (this.subscribers.size === 0) {
      this.timer = undefined;
      return;
    }
    const base = this.options.intervalMs;
    const delay = ok ? base : Math.min(base * 2 ** Math.min(this.failures, 16), Math.max(base, this.options.maxBackoffMs ?? 300_000));
    this.schedule(delay);
  }
}
