import { setTimeout as sleep } from 'node:timers/promises';

/** How often a marker file is re-read while waiting for it. */
const REREAD_MS = 10;

/** Re-reads `read` until it gives a value or `timeoutMs` has passed (then null). */
export async function untilPresent<T>(read: () => T | null, timeoutMs: number): Promise<T | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== null || Date.now() >= deadline) return value;
    await sleep(REREAD_MS);
  }
}
