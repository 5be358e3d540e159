import type { ValidNewEvent } from '../events/envelope.ts';
import { MatterStackError } from '../events/errors.ts';
import { DelegatingEventLog } from '../storage/delegating-event-log.ts';
import type { AppendResult } from '../events/event-log.ts';

/**
 * The log as one incarnation of a hosted run sees it. When the worker gives up on that
 * incarnation (a reconnect left it stuck on a dead consumer, say) it retires the epoch: any
 * append it still attempts is refused, so an abandoned host can never write next to its
 * successor (which restores from the log).
 */
export class EpochEventLog extends DelegatingEventLog {
  private retired = false;

  /** Refuses every later append. */
  retire(): void {
    this.retired = true;
  }

  override append(runId: string, events: readonly ValidNewEvent[], expectedSeq: number): Promise<AppendResult> {
    if (this.retired) return Promise.reject(new MatterStackError('LOG_UNAVAILABLE', `run ${runId}: this host was retired`, { runId }));
    return this.inner.append(runId, events, expectedSeq);
  }

  /** The shared log stays open: only this view is retired. */
  override async close(): Promise<void> {
    this.retire();
  }
}
