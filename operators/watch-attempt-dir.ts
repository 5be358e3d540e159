import { watch as fsWatch, type FSWatcher } from 'node:fs';
import type { Logger } from '../events/logger.ts';
import type { PollResult, Unsubscribe } from './operator.ts';
import { isTerminalPoll } from './operator.ts';

/** Default interval of the polling fallback (SPEC §3: 1 s for local status files). */
export const DEFAULT_POLL_INTERVAL_MS = 1000;

/**
 * Calls `check` now, whenever something changes in `dir` (fs.watch, which may miss events on
 * some file systems) and every `intervalMs` as a fallback; reports to `onChange` the first
 * status and every change. Stops by itself after a terminal status.
 * `extra` lets a caller add its own triggers (e.g. a child's exit); it gets the trigger function.
 * A failing check is logged on `attempt.log` and retried on the next trigger. `attempt.watchFiles`
 * false skips fs.watch (the caller's own trigger already reports every change).
 */
export function watchAttemptDir(
  attempt: { dir: string; log: Logger; watchFiles?: boolean },
  check: () => Promise<PollResult>,
  onChange: (result: PollResult) => void,
  intervalMs: number = DEFAULT_POLL_INTERVAL_MS,
  extra?: (trigger: () => void) => Unsubscribe,
): Unsubscribe {
  let stopped = false;
  let running = false;
  let again = false;
  let last: string | undefined;
  let watcher: FSWatcher | undefined;
  let stopExtra: Unsubscribe | undefined;

  const stop = (): void => {
    stopped = true;
    clearInterval(timer);
    watcher?.close();
    stopExtra?.();
  };
  const trigger = (): void => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    void check()
      .then((result) => {
        const signature = `${result.status}\u0000${result.reason ?? ''}`;
        if (!stopped && signature !== last) {
          last = signature;
          if (isTerminalPoll(result)) stop();
          onChange(result);
        }
      })
      // A failing check (a transient I/O error) is retried on the next trigger.
      .catch((err: unknown) => attempt.log.warn({ err }, 'status check failed; checking again on the next change or interval'))
      .finally(() => {
        running = false;
        if (again) {
          again = false;
          trigger();
        }
      });
  };
  const timer = setInterval(trigger, intervalMs);
  timer.unref();
  try {
    if (attempt.watchFiles !== false) watcher = fsWatch(attempt.dir, { persistent: false }, () => trigger());
    // The interval goes on without it.
    watcher?.on('error', () => watcher?.close());
  } catch {
    // No fs.watch here: the interval alone will do.
  }
  stopExtra = extra?.(trigger);
  trigger();
  return stop;
}
