import type { AttemptStatus } from '../../events/statuses.ts';
import type { TaskEntry } from '../run-context.ts';

/** First automatic-retry delay when the task does not set `retryBackoffSeconds`. */
export const DEFAULT_RETRY_BACKOFF_SECONDS = 10;
/** Longest delay between automatic retries. */
export const MAX_RETRY_BACKOFF_SECONDS = 600;

/**
 * The failure kind of an attempt's reason: the Slurm state (`TIMEOUT: ...` → `TIMEOUT`),
 * `lost`, `exit code N`; a local time limit ("time limit of ... exceeded") is `TIMEOUT`.
 */
export function failureKind(reason: string | undefined): string {
  const text = (reason ?? '').trim();
  if (/^time limit\b/i.test(text)) return 'TIMEOUT';
  const exit = /^exit code -?\d+/i.exec(text);
  if (exit) return exit[0].toLowerCase();
  const word = /^[A-Za-z_]+/.exec(text)?.[0] ?? '';
  return word.toLowerCase() === 'lost' ? 'lost' : word;
}

/** True when `retryOn` (absent = every failure) covers this failure reason. */
export function matchesRetryOn(retryOn: readonly string[] | undefined, reason: string | undefined): boolean {
  if (retryOn === undefined || retryOn.length === 0) return true;
  const kind = failureKind(reason).toLowerCase();
  const text = (reason ?? '').trim().toLowerCase();
  return retryOn.some((raw) => {
    const want = raw.trim().toLowerCase();
    return want === kind || (want !== '' && text.startsWith(want));
  });
}

/**
 * SPEC (retries): a FAILED attempt of a task with `retries: N` gets a new attempt while fewer
 * than N automatic retries were made and the failure matches `retryOn`. Cancellations and
 * FAILED_INIT (the operator never accepted the work) are never retried automatically.
 */
export function shouldRetry(entry: TaskEntry, status: AttemptStatus, reason: string | undefined): boolean {
  if (status !== 'FAILED') return false;
  const allowed = entry.spec.retries ?? 0;
  if ((entry.retried ?? 0) >= allowed) return false;
  return matchesRetryOn(entry.spec.retryOn, reason);
}

/** The reason recorded on the task while its retry waits: which attempt failed, why, and which retry this is. */
export function retryReason(entry: TaskEntry, attemptId: string, reason: string | undefined): string {
  const n = (entry.retried ?? 0) + 1;
  return `retry ${n} of ${entry.spec.retries ?? 0} after attempt ${attemptId} failed${reason ? `: ${reason}` : ''}`;
}

/** Delay before an automatic retry's attempt starts: base · 2^(k−1), capped; 0 for a first or a manual attempt. */
export function retryDelayMs(entry: TaskEntry | undefined): number {
  const k = entry?.retried ?? 0;
  if (entry === undefined || k <= 0) return 0;
  const base = entry.spec.retryBackoffSeconds ?? DEFAULT_RETRY_BACKOFF_SECONDS;
  return Math.round(Math.min(base * 2 ** (k - 1), MAX_RETRY_BACKOFF_SECONDS) * 1000);
}
