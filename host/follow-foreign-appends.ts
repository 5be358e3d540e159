import { sleepUnlessAborted } from '../events/sleep.ts';
import type { RunHandle } from './run-lifecycle.ts';
import type { RunHost } from './run-host.ts';

/**
 * Applies records other processes append (a CLI command while this loop runs) as soon as they land.
 * Why a lastSeq check and not `log.follow`: following would read back (and parse) every record this
 * host appended itself only to find it already applied — a third of the CPU of a big fan-out. The
 * run's last sequence is one indexed lookup; only when it moved past the host's does the host read.
 */
const FOREIGN_POLL_MS = 25;
export async function followForeignAppends(handle: Pick<RunHandle, 'runId' | 'store'>, host: RunHost, signal: AbortSignal, onChange: () => void): Promise<void> {
  const { log } = handle.store;
  while (!signal.aborted) {
    await sleepUnlessAborted(FOREIGN_POLL_MS, signal);
    if (signal.aborted) return;
    try {
      if ((await log.lastSeq(handle.runId)) > host.seq) {
        await host.refresh();
        onChange();
      }
    } catch (error) {
      // Aborted: the log may be closing under the loop. Otherwise the log cannot be read: stop the host, whose driver reports it.
      if (!signal.aborted) {
        host.halt(error);
        onChange();
      }
      return;
    }
  }
}
