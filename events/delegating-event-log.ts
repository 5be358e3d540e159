import type { NewEvent, StoredEvent } from './envelope.ts';
import type { AppendResult, EventLog, FollowOptions, LoggedRun } from './event-log.ts';

/** An EventLog that forwards every call to another: wrappers (fencing, counting) override what they change. */
export class DelegatingEventLog implements EventLog {
  constructor(protected readonly inner: EventLog) {}

  append(runId: string, events: readonly NewEvent[], expectedSeq: number): Promise<AppendResult> {
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
