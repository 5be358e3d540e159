import type { ValidNewEvent } from '../events/envelope.ts';
import { isMatterStackError, MatterStackError } from '../events/errors.ts';
import { DelegatingEventLog } from '../storage/delegating-event-log.ts';
import type { AppendResult, EventLog } from '../events/event-log.ts';

/**
 * An EventLog wrapper for a worker: the last line of defence of run ownership. Appends of one
 * run are serialised in this process, so a version conflict whose log tail is not this
 * process's own last append means another writer got in: the run is fenced (every later append
 * of it is refused with LOG_UNAVAILABLE, which the host does not retry) and `onFenced` tells the
 * worker to stop hosting it. Conflicts between this process's own hosts (a command host and the
 * live host of the same run) stay ordinary conflicts, which the host resolves by catching up.
 */
export class FencedEventLog extends DelegatingEventLog {
  private readonly ownTail = new Map<string, number>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly fenced = new Set<string>();

  constructor(
    inner: EventLog,
    private readonly onFenced: (runId: string, why: string) => void = () => undefined,
  ) {
    super(inner);
  }

  /** Refuses further appends to `runId` from this process (lease lost or released). */
  fence(runId: string, why: string): void {
    if (this.fenced.has(runId)) return;
    this.fenced.add(runId);
    this.onFenced(runId, why);
  }

  /** Allows appends to `runId` again (the lease was re-acquired; the host restores from the log). */
  unfence(runId: string): void {
    this.fenced.delete(runId);
    this.ownTail.delete(runId);
  }

  isFenced(runId: string): boolean {
    return this.fenced.has(runId);
  }

  /** The last sequence this process appended to `runId` (undefined when none since hosting it). */
  lastOwnSeq(runId: string): number | undefined {
    return this.ownTail.get(runId);
  }

  override append(runId: string, events: readonly ValidNewEvent[], expectedSeq: number): Promise<AppendResult> {
    const previous = this.queues.get(runId) ?? Promise.resolve();
    const next = previous.then(
      () => this.appendNow(runId, events, expectedSeq),
      () => this.appendNow(runId, events, expectedSeq),
    );
    // The caller gets the failure through `next`; the per-run queue only needs to know the append settled.
    const tail = next.catch(() => undefined);
    this.queues.set(runId, tail);
    void tail.then(() => {
      if (this.queues.get(runId) === tail) this.queues.delete(runId);
    });
    return next;
  }

  private async appendNow(runId: string, events: readonly ValidNewEvent[], expectedSeq: number): Promise<AppendResult> {
    if (this.fenced.has(runId)) throw new MatterStackError('LOG_UNAVAILABLE', `run ${runId} is no longer hosted by this worker`, { runId });
    try {
      const result = await this.inner.append(runId, events, expectedSeq);
      this.ownTail.set(runId, result.lastSeq);
      return result;
    } catch (error) {
      if (!isMatterStackError(error, 'VERSION_CONFLICT')) throw error;
      const actual = error.details.actualSeq;
      const own = this.ownTail.get(runId);
      // Our own earlier append (or the run's state when we started hosting it): a local race, not a foreign writer.
      if (own !== undefined && actual === own) throw error;
      if (own === undefined) {
        // No append of ours yet: we cannot tell; record the tail and let the host catch up once.
        if (typeof actual === 'number') this.ownTail.set(runId, actual);
        throw error;
      }
      this.fence(runId, `version conflict: expected ${expectedSeq}, the log is at ${String(actual)} (another writer)`);
      throw new MatterStackError('LOG_UNAVAILABLE', `run ${runId}: another writer appended (ownership lost)`, { runId }, { cause: error });
    }
  }

  /** Sets the tail this process starts hosting from (what it restored). */
  adoptTail(runId: string, seq: number): void {
    this.ownTail.set(runId, seq);
  }

}
