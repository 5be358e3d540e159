import { isMatterStackError } from '../events/errors.ts';
import type { Logger } from '../events/logger.ts';
import { sleepUnlessAborted } from '../events/sleep.ts';
import { TERMINAL_RUN_STATUSES } from '../events/statuses.ts';
import type { RegistryOptions } from '../operators/operator-registry.ts';
import { RunHost } from '../host/run-host.ts';
import { openRun } from '../host/run-lifecycle.ts';
import { runUntilCompletion } from '../host/drive-run.ts';
import { RunStore } from '../host/run-store.ts';
import { EpochEventLog } from './epoch-event-log.ts';
import { CommandDedup } from './command-dedup.ts';
import type { FencedEventLog } from './fenced-event-log.ts';
import { SerialQueue } from '../events/serial-queue.ts';
import type { SharedSlots } from '../host/shared-slots.ts';

/** Why a session ended (`refused`: this version decides the run's history otherwise, HISTORY_DIVERGED). */
export type SessionEnd = 'finished' | 'fenced' | 'stopped' | 'refused';

/** What a session needs from its worker. */
export interface RunSessionDeps {
  store: RunStore;
  log: FencedEventLog;
  /** NATS URL (selects the projections file of a per-incarnation store). */
  natsUrl: string;
  operators?: RegistryOptions;
  /** Who drives the run, for `explain` (`worker w1`). */
  driver: string;
  dedupWindowMs: number;
  /** The operator slots shared with every worker. */
  slots?: SharedSlots;
  /** The worker's logger (the session and the run's host add the run id). */
  logger: Logger;
  onEnd: (session: RunSession, why: SessionEnd) => Promise<void>;
}

function abortedPromise(signal: AbortSignal): Promise<'KICKED'> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve('KICKED');
    else signal.addEventListener('abort', () => resolve('KICKED'), { once: true });
  });
}

/**
 * One run hosted by this worker (whose lease it holds): drives it with `runUntilCompletion`
 * until it is finished, re-restoring from the log after a transient failure (server restart),
 * and serialises the commands it executes. Ends when the run is finished, when ownership is
 * lost (the log is fenced), or on shutdown.
 */
export class RunSession {
  readonly abort = new AbortController();
  readonly dedup: CommandDedup;
  /** Set once the session has decided to end: commands must then go the unhosted way. */
  closed = false;
  private readonly queue = new SerialQueue();
  private loop: Promise<void> | undefined;
  private incarnation: AbortController | undefined;
  private readonly log: Logger;

  constructor(
    readonly runId: string,
    private readonly deps: RunSessionDeps,
  ) {
    this.dedup = new CommandDedup(deps.dedupWindowMs);
    this.log = deps.logger.child({ runId });
  }

  /** Runs `job` after every job queued before it (commands of one run execute one at a time). */
  serialize<T>(job: () => Promise<T>): Promise<T> {
    return this.queue.run(job);
  }

  /** Starts driving the run (idempotent). */
  start(): void {
    this.loop ??= this.drive();
  }

  /** Abandons the current incarnation of the run's host and restores a new one from the log (after a reconnect). */
  kick(): void {
    this.incarnation?.abort();
  }

  /** Resolves when the drive loop has ended. */
  async ended(): Promise<void> {
    await this.loop;
  }

  private get fenced(): boolean {
    return this.deps.log.isFenced(this.runId);
  }

  private async drive(): Promise<void> {
    const { signal } = this.abort;
    let backoff = 250;
    let why: SessionEnd = 'stopped';
    while (!signal.aborted && !this.fenced) {
      const incarnation = new AbortController();
      this.incarnation = incarnation;
      const stopIncarnation = (): void => incarnation.abort();
      signal.addEventListener('abort', stopIncarnation, { once: true });
      // Each incarnation appends through its own retirable view of the log and its own store.
      const epochLog = new EpochEventLog(this.deps.log);
      let store: RunStore | undefined;
      try {
        store = await RunStore.open({ root: this.deps.store.root, natsUrl: this.deps.natsUrl, log: epochLog });
        const handle = await openRun({ store, runId: this.runId });
        const driving = runUntilCompletion(handle, { signal: incarnation.signal, driver: this.deps.driver, logger: this.deps.logger, ...(this.deps.slots ? { slots: this.deps.slots } : {}), ...(this.deps.operators ? { registry: this.deps.operators } : {}) });
        // A host stuck on a dead consumer does not see the abort: stop waiting for it.
        const status = await Promise.race([driving, abortedPromise(incarnation.signal)]);
        if (signal.aborted || this.fenced) break;
        if (status === 'KICKED') continue;
        if (TERMINAL_RUN_STATUSES.includes(status) && (await this.serialize(() => this.closeIfFinished()))) {
          why = 'finished';
          break;
        }
        backoff = 250;
      } catch (error) {
        if (signal.aborted || this.fenced) break;
        if (isMatterStackError(error, 'HISTORY_DIVERGED')) {
          // Restoring again decides the same: let the run go (a worker of the version that wrote it may take it).
          this.log.warn({ err: error }, 'run refused: its logged history diverges from what this version decides');
          why = 'refused';
          break;
        }
        this.log.warn({ err: error, backoffMs: backoff }, 'run failed; restoring it from the log after a backoff');
        await sleepUnlessAborted(backoff, signal);
        backoff = Math.min(backoff * 2, 5000);
      } finally {
        signal.removeEventListener('abort', stopIncarnation);
        epochLog.retire();
        // A retired incarnation's store has nothing left to write: a failed close loses nothing, but is told.
        void store?.close().catch((err: unknown) => this.log.warn({ err }, 'could not close a retired store'));
      }
    }
    if (why !== 'finished' && this.fenced) why = 'fenced';
    this.closed = true;
    await this.deps.onEnd(this, why);
  }

  /** In the command queue: a command may have revived the run since the loop saw it terminal. */
  private async closeIfFinished(): Promise<boolean> {
    const host = await RunHost.restore(this.deps.log, this.runId);
    const run = host.state.run;
    const done = host.status !== undefined && TERMINAL_RUN_STATUSES.includes(host.status) && (run === undefined || Object.keys(run.context.active).length === 0);
    if (done) this.closed = true;
    return done;
  }
}
