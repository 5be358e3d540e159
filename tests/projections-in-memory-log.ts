import type { StoredEvent, ValidNewEvent } from '../events/envelope.ts';
import { VersionConflictError } from '../events/errors.ts';
import type { AppendResult, EventLog, FollowOptions, LoggedRun } from '../events/event-log.ts';

/**
 * A minimal in-memory EventLog for projection specs: positions are 1-based append order,
 * events are stored as given (no validation: the fixtures build valid ones).
 */
export class InMemoryEventLog implements EventLog {
  readonly events: StoredEvent[] = [];
  private readonly lastSeqs = new Map<string, number>();

  /** Appends if the run is at `expectedSeq`, like the real logs. */
  async append(runId: string, events: readonly ValidNewEvent[], expectedSeq: number): Promise<AppendResult> {
    const actual = this.lastSeqs.get(runId) ?? 0;
    if (actual !== expectedSeq) throw new VersionConflictError(runId, expectedSeq, actual);
    let seq = expectedSeq;
    for (const event of events) {
      seq += 1;
      this.events.push({
        ...event,
        runId,
        seq,
        position: this.events.length + 1,
        schemaVersion: 1,
      });
    }
    this.lastSeqs.set(runId, seq);
    return { runId, firstSeq: expectedSeq + 1, lastSeq: seq, duplicate: false };
  }

  /** Appends one event at the run's current end. */
  async appendNext(runId: string, event: ValidNewEvent): Promise<StoredEvent> {
    await this.append(runId, [event], this.lastSeqs.get(runId) ?? 0);
    return this.events[this.events.length - 1]!;
  }

  async *readRun(runId: string, afterSeq = 0): AsyncIterable<StoredEvent> {
    for (const event of this.events) if (event.runId === runId && event.seq > afterSeq) yield event;
  }

  async *readAll(afterPosition = 0): AsyncIterable<StoredEvent> {
    for (let i = afterPosition; i < this.events.length; i++) yield this.events[i]!;
  }

  async *follow(options: FollowOptions = {}): AsyncIterable<StoredEvent> {
    // Existing events only: the projection specs never wait for live ones.
    if (options.runId !== undefined) yield* this.readRun(options.runId, options.afterSeq);
    else yield* this.readAll(options.afterPosition);
  }

  async lastSeq(runId: string): Promise<number> {
    return this.lastSeqs.get(runId) ?? 0;
  }

  async flush(): Promise<void> {}

  async listRuns(): Promise<LoggedRun[]> {
    return [...this.lastSeqs].map(([runId, lastSeq]) => ({ runId, lastSeq })).sort((a, b) => a.runId.localeCompare(b.runId));
  }

  async close(): Promise<void> {}
}
