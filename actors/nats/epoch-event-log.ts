import type { NewEvent, StoredEvent } from '../../events/envelope.ts';
import { MatterStackError } from '../../events/errors.ts';
import type { AppendResult, EventLog, FollowOptions, LoggedRun } from '../../events/event-log.ts';

/**
 * The log as one incarnation of a hosted run sees it. When the worker gives up on that
 * incarnation (a reconnect left it stuck on a dead consumer, say) it retires the epoch: any
 * append it still attempts is refused, so an abandoned host can never write next to its
 * successor (which restores from the log).
 */
export class EpochEventLog implements EventLog {
  private retired = false;

  constructor(private readonly inner: EventLog) {}

  /** Refuses every later append. */
  retire(): void {
    this.retired = true;
  }

  append(runId: string, events: readonly NewEvent[], expectedSeq: number): Promise<AppendResult> {
    if (this.retired) return Promise.reject(new MatterStackError('LOG_UNAVAILABLE', `run ${runId}: this host was retired`, { runId }));
    return this.inner.append(runId, events, expectedSeq);
  }
  readRun(runId: string, afterSeq?: number): AsyncIterable<StoredEvent> {
    return this.inner.readRun(runId, afterSeq);
  }
  readAll(afterPosition?: number): AsyncIterable<StoredEvent> {
    return this.inner.readAll(afterPosition);
  }
  follow(options?: FollowOptions): AsyncIterable<StoredEvent> {
    return this.inner.follow(options);
  }
  lastSeq(runId: string): Promise<number> {
    return this.inner.lastSeq(runId);
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
  listRuns(): Promise<LoggedRun[]> {
    return this.inner.listRuns();
  }
  /** The shared log stays open: only this view is retired. */
  async close(): Promise<void> {
    this.retire();
  }
}
