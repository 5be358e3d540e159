import type { LiveMessage } from './live-feed.ts';

type Listener = (message: LiveMessage) => void;

/** Stops a watch of the runs' appends. */
export type StopWatching = () => Promise<void>;

/**
 * Calls `touched` with a run's id whenever records are appended to its log (ids may repeat), and
 * `failed` when the watch breaks; resolves once watching.
 */
export type WatchRuns = (touched: (runId: string) => void, failed: (error: unknown) => void) => Promise<StopWatching>;

/**
 * Gathers touched runs this long into one message: each `resync` makes every page showing the run
 * ask a worker for its status again, so a fan-out must not turn into a request per record.
 */
const RESYNC_COALESCE_MS = 500;

/**
 * The live feed of a page that may not read the log (the NATS viewer): it hears which runs were
 * appended to (`watch`: the records themselves are not read) and sends the pages `resync` naming
 * them, so they load again what a worker tells them. Same interface as LiveFeed for the server.
 */
export class ResyncFeed {
  private readonly listeners = new Set<Listener>();
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly stop: Promise<StopWatching>;

  /** Starts watching; `onError` hears a watch that could not start. */
  constructor(watch: WatchRuns, onError: (error: unknown) => void) {
    this.stop = watch((runId) => this.touch(runId), onError);
    this.stop.catch(onError);
  }

  private touch(runId: string): void {
    if (this.closed) return;
    this.pending.add(runId);
    this.timer ??= setTimeout(() => this.flush(), RESYNC_COALESCE_MS);
  }

  private flush(): void {
    this.timer = undefined;
    const runs = [...this.pending];
    this.pending = new Set();
    const message: LiveMessage = { event: 'resync', data: JSON.stringify({ runs }), runIds: runs };
    for (const listener of this.listeners) listener(message);
  }

  /** Calls `listener` with a `hello` (no seq is known here), then every `resync`, until the returned function is called. */
  subscribe(listener: Listener): () => void {
    listener({ event: 'hello', data: '{"seen":{}}', runIds: [] });
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops watching. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.listeners.clear();
    // A watch that never started has nothing to stop (its error went to onError).
    const stop = await this.stop.catch(() => undefined);
    await stop?.();
  }
}
