import type { EventLog } from '../events/event-log.ts';
import { deltaMessage } from './delta-message.ts';
import { noteTouches, type RunDelta, type RunTouches } from './live-deltas.ts';

/** One server-sent event for the pages: its name, its JSON text, and the runs it is about. */
export interface LiveMessage {
  event: 'hello' | 'delta' | 'resync';
  /** Its JSON text for a page that asked for no run's attempt rows. */
  data: string;
  runIds: readonly string[];
  /** Its JSON text for a page that asked for the attempt rows of these runs (absent: `data` for every page). */
  dataFor?: (attemptRuns: ReadonlySet<string>) => string;
}

type Listener = (message: LiveMessage) => void;

/**
 * How long appends are gathered into one message: a fan-out appends thousands of records a second,
 * and a page redraws once per message (at most four a second).
 */
const COALESCE_MS = 250;
/**
 * Pages served per COALESCE_MS: every page parses and redraws every message, so with more pages
 * open (fifty on one machine slowed the run they watched seven-fold) messages come less often,
 * 250 ms more per ten pages, and each carries a row touched several times in the while once.
 */
const PAGES_PER_STEP = 10;

/** How long appends are gathered with `pages` pages listening. */
export function coalesceMs(pages: number): number {
  return COALESCE_MS * Math.max(1, Math.ceil(pages / PAGES_PER_STEP));
}

/**
 * One follower of the whole log (however many pages are open). Every coalesceMs at most it notes
 * what the new records touched, reads those rows once (`readDeltas`) and gives the same message,
 * serialized once (web/delta-message.ts), to every listener; with no listener it reads nothing.
 */
export class LiveFeed {
  private readonly listeners = new Set<Listener>();
  private readonly abort = new AbortController();
  private pending = new Map<string, RunTouches>();
  /** Each run's last seq the feed has passed on (or dropped with no listener): a new page compares it with what it loaded. */
  private readonly passed = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  /** The catch-up running between messages, and whether records came after it started. */
  private catchingUp: Promise<void> | undefined;
  private behind = false;
  private readonly done: Promise<void>;

  /**
   * Follows `log` from after global position `afterPosition`; `readDeltas` reads the touched rows
   * from up-to-date projections, and `catchUp` brings them up to date as records come.
   */
  constructor(
    log: EventLog,
    afterPosition: number,
    private readonly readDeltas: (touches: ReadonlyMap<string, RunTouches>) => Promise<RunDelta[]>,
    private readonly onError: (error: unknown) => void,
    private readonly catchUp: () => Promise<unknown>,
  ) {
    this.done = this.follow(log, afterPosition).catch((error: unknown) => {
      if (!this.abort.signal.aborted) onError(error);
    });
  }

  private async follow(log: EventLog, afterPosition: number): Promise<void> {
    for await (const event of log.follow({ afterPosition, signal: this.abort.signal })) {
      noteTouches(this.pending, event);
      this.schedule();
      this.keepUp();
    }
  }

  /**
   * While pages listen, folds the records into the projections as they come, one catch-up at a
   * time: a message then reads rows at once instead of first folding the whole gathering (during a
   * fan-out, thousands of records), which delayed every message by that fold.
   */
  private keepUp(): void {
    this.behind = true;
    if (this.catchingUp !== undefined || this.listeners.size === 0 || this.abort.signal.aborted) return;
    this.behind = false;
    this.catchingUp = this.catchUp()
      .then(() => undefined)
      // A failing catch-up fails the next message's read too, which reports it and resyncs the pages.
      .catch(() => undefined)
      .finally(() => {
        this.catchingUp = undefined;
        if (this.behind) this.keepUp();
      });
  }

  private schedule(): void {
    if (this.timer === undefined && this.flushing === undefined && this.pending.size > 0) this.timer = setTimeout(() => this.flush(), coalesceMs(this.listeners.size));
  }

  private flush(): void {
    this.timer = undefined;
    const touches = this.pending;
    this.pending = new Map();
    for (const [runId, touched] of touches) this.passed.set(runId, touched.toSeq);
    if (this.listeners.size === 0) return;
    const runIds = [...touches.keys()];
    this.flushing = this.readDeltas(touches)
      .then((deltas) => this.deliver(deltaMessage(deltas)))
      .catch((error: unknown) => {
        // The pages reload what they show and meet the error there; the operator sees it here.
        this.onError(error);
        this.deliver({ event: 'resync', data: JSON.stringify({ runs: runIds }), runIds });
      })
      .finally(() => {
        this.flushing = undefined;
        if (!this.abort.signal.aborted) this.schedule();
      });
  }

  private deliver(message: LiveMessage): void {
    for (const listener of this.listeners) listener(message);
  }

  /** Calls `listener` with a `hello` (each run's last seq passed on), then every message, until the returned function is called. */
  subscribe(listener: Listener): () => void {
    listener({ event: 'hello', data: JSON.stringify({ seen: Object.fromEntries(this.passed) }), runIds: [] });
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops following. */
  async close(): Promise<void> {
    this.abort.abort();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.listeners.clear();
    await Promise.all([this.done, this.flushing, this.catchingUp]);
  }
}
