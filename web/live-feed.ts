import type { EventLog } from '../events/event-log.ts';

/** What the page hears: the runs whose logs grew, each with its last sequence now. */
export interface LiveChange {
  runs: Record<string, number>;
}

type Listener = (change: LiveChange) => void;

/** How long appends are gathered into one message: a fan-out appends thousands of records a second. */
const COALESCE_MS = 100;

/**
 * One follower of the whole log (however many pages are open) that tells every listener which
 * runs changed, at most every COALESCE_MS. Pages then ask for what they show.
 */
export class LiveFeed {
  private readonly listeners = new Set<Listener>();
  private readonly abort = new AbortController();
  private pending: Record<string, number> = {};
  private timer: NodeJS.Timeout | undefined;
  private readonly done: Promise<void>;

  /** Follows `log` from after global position `afterPosition`. */
  constructor(log: EventLog, afterPosition: number, onError: (error: unknown) => void) {
    this.done = this.follow(log, afterPosition).catch((error: unknown) => {
      if (!this.abort.signal.aborted) onError(error);
    });
  }

  private async follow(log: EventLog, afterPosition: number): Promise<void> {
    for await (const event of log.follow({ afterPosition, signal: this.abort.signal })) {
      this.pending[event.runId] = event.seq;
      this.timer ??= setTimeout(() => this.flush(), COALESCE_MS);
    }
  }

  private flush(): void {
    this.timer = undefined;
    const change = { runs: this.pending };
    this.pending = {};
    for (const listener of this.listeners) listener(change);
  }

  /** Calls `listener` on every change until the returned function is called. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops following. */
  async close(): Promise<void> {
    this.abort.abort();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.listeners.clear();
    await this.done;
  }
}
