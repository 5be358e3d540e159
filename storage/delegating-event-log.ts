import type { StoredEvent, ValidNewEvent } from '../events/envelope.ts';
import type { AppendResult, EventLog, FollowOptions, LoggedRun } from '../events/event-log.ts';
import type { ChangeRecord } from './sqlite-rows.ts';

type ChangeFeed = { readAllChanges(afterPosition?: number): AsyncIterable<readonly ChangeRecord[]> };

/** An EventLog that forwards every call to another: wrappers (fencing, counting) override what they change. */
export class DelegatingEventLog implements EventLog {
  /** The inner log's narrow projection feed, when it has one (a wrapper must not hide it). */
  readonly readAllChanges?: (afterPosition?: number) => AsyncIterable<readonly ChangeRecord[]>;

  constructor(protected readonly inner: EventLog) {
    const feed = inner as EventLog & Partial<ChangeFeed>;
    if (typeof feed.readAllChanges === 'function') this.readAllChanges = (afterPosition) => (feed as ChangeFeed).readAllChanges(afterPosition);
  }

  append(runId: string, events: readonly ValidNewEvent[], expectedSeq: number): Promise<AppendResult> {
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
  close(): Promise<void> {
    return this.inner.close();
  }
}
