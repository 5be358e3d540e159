import { newEventId } from '../events/event-id.ts';
import type { StoredEvent, ValidNewEvent } from '../events/envelope.ts';
import { isMatterStackError, MatterStackError } from '../events/errors.ts';
import type { EventLog } from '../events/event-log.ts';
import { HOST_VERSION_TYPE, isHostVersion, parseHostVersion, sameWriter, type WriterStamp } from '../events/host-version.ts';
import { rootLogger, type Logger } from '../events/logger.ts';
import { parseAttemptEvent, parseRunEvent, type AttemptEvent, type RunEvent } from '../events/run-events.ts';
import type { RunStatus } from '../events/statuses.ts';
import { applyEvent, Delivery, emptySystem, payloadOf, type Processed, type RunSystem } from '../machines/system.ts';
import { isStillOwed, pendingEffects, type PendingEffect } from '../machines/pending-effects.ts';
import { EffectPool } from './effect-pool.ts';
import { SerialQueue } from '../events/serial-queue.ts';
import { historyDivergedError, outcomeDifference, type HistoryDivergence } from './history-divergence.ts';
import { currentWriter } from './writer-stamp.ts';
import type { DrainResult, HostCheckpoint, RunHostOptions, StoredEventLike } from './run-host-options.ts';

export type { DrainResult, EffectHandler, HostCheckpoint, RunHostOptions, StoredEventLike } from './run-host-options.ts';

type AnyEvent = RunEvent | AttemptEvent;
interface MailItem {
  actor: string;
  event: AnyEvent;
}
/** A mailbox entry: the item and where its records go (the `appended` of the `deliver` that queued it; none for `send`). */
interface QueuedItem extends MailItem {
  sink: StoredEventLike[] | undefined;
}

/**
 * Records per append, at most (a batch is cut between mailbox items, never inside the cascade of
 * one item: a record and the messages it routes stay in one atomic append, so a crash can never
 * leave a run that dispatched attempts the log does not have).
 */
export const MAX_BATCH_RECORDS = 2000;

/**
 * Hosts one run: its run actor and attempt actors, restored by replaying the log. Events go
 * through a mailbox; each drain decides every queued event (and the messages they cause),
 * appends the resulting records in one batch with the expected sequence, adopts the new states,
 * and only then starts the effects (write-ahead). A foreign append (another process) surfaces as
 * a version conflict: the host catches up from the log and decides again.
 */
export class RunHost {
  readonly runId: string;
  private readonly log: EventLog;
  private readonly options: RunHostOptions;
  private readonly logger: Logger;
  private system: RunSystem = emptySystem();
  private lastSeq = 0;
  private mailbox: QueuedItem[] = [];
  private readonly chain = new SerialQueue();
  /** A drain queued on the chain that has not started yet: later deliveries join it instead of queuing another. */
  private queuedDrain: Promise<void> | undefined;
  /** The effects this host carries out (none for a command-only writer). */
  private readonly effects: EffectPool | undefined;
  /** Why the host stopped, once an append failed for a reason other than a conflict. */
  private stopReason: { error: unknown } | undefined;
  private readonly writer: WriterStamp;
  /** Who wrote the last record applied: when it is not `writer`, the next append starts with a HOST.VERSION record. */
  private lastWriter: WriterStamp | null = null;
  private firstDivergence: HistoryDivergence | undefined;

  private constructor(runId: string, log: EventLog, options: RunHostOptions) {
    this.runId = runId;
    this.log = log;
    this.options = options;
    this.writer = options.writer ?? currentWriter();
    this.logger = options.logger ?? rootLogger().child({ runId });
    const handler = options.effects;
    this.effects = handler === undefined ? undefined : new EffectPool((pending) => handler.run(this, pending), this.logger);
  }

  /**
   * Restores the run from its log (no effects during replay), then re-issues the effects it still
   * owes. `from` is a state this process already holds (what another host of the run reached at
   * `seq`): only the records after it are replayed. Every record is decided again and compared with
   * its logged outcome: the first that differs refuses the restore (HISTORY_DIVERGED, nothing
   * appended) unless `tolerateDivergence`; history is never silently re-decided.
   */
  static async restore(log: EventLog, runId: string, options: RunHostOptions = {}, from?: HostCheckpoint): Promise<RunHost> {
    const host = new RunHost(runId, log, options);
    if (from !== undefined) {
      host.system = from.system;
      host.lastSeq = from.seq;
      host.lastWriter = from.writer;
    }
    await host.catchUp();
    if (host.system.run === undefined) throw new MatterStackError('RUN_NOT_FOUND', `run ${runId} not found`, { runId });
    host.startOwedEffects();
    return host;
  }

  /** A host for a run that does not exist yet (its first event must be RUN.CREATED). */
  static create(log: EventLog, runId: string, options: RunHostOptions = {}): RunHost {
    return new RunHost(runId, log, options);
  }

  /** The current snapshots (read-only view). */
  get state(): RunSystem {
    return this.system;
  }

  /** The run's status, or undefined before RUN.CREATED. */
  get status(): RunStatus | undefined {
    return this.system.run?.context.status;
  }

  /** The last sequence this host has applied. */
  get seq(): number {
    return this.lastSeq;
  }

  /** The state and sequence reached so far, for another host of the run in this process (`restore`'s `from`). */
  checkpoint(): HostCheckpoint {
    return { system: this.system, seq: this.lastSeq, writer: this.lastWriter };
  }

  /** The first logged record the current machines decide differently (only a `tolerateDivergence` host gets this far with one). */
  get divergence(): HistoryDivergence | undefined {
    return this.firstDivergence;
  }

  /** Queues events for actors and drains the mailbox; resolves with what was appended. */
  deliver(items: MailItem | MailItem[]): Promise<DrainResult> {
    const appended: StoredEventLike[] = [];
    return this.enqueue(items, appended).then(() => ({ appended }));
  }

  /**
   * `deliver` for callers that do not read the records (effect reports): resolves at the same
   * point, but no list keeps the records alive until the drain ends (1000 effects report at once).
   */
  send(items: MailItem | MailItem[]): Promise<void> {
    return this.enqueue(items, undefined);
  }

  private enqueue(items: MailItem | MailItem[], sink: StoredEventLike[] | undefined): Promise<void> {
    if (this.stopReason !== undefined) return Promise.reject(this.stopReason.error);
    if (this.firstDivergence !== undefined) return Promise.reject(historyDivergedError(this.firstDivergence));
    if (Array.isArray(items)) for (const item of items) this.mailbox.push({ actor: item.actor, event: item.event, sink });
    else this.mailbox.push({ actor: items.actor, event: items.event, sink });
    // Deliveries that arrive while a drain waits its turn are decided by that drain (it drains the
    // whole mailbox): one chained job for them all, not one each (100k effect reports → 100k jobs).
    this.queuedDrain ??= this.chain.run(async () => {
      // Let what this turn of the event loop still delivers join the drain: an operator that
      // answers in microtasks (a report right after SUBMITTED, results with the report) then
      // shares one append with it instead of paying one durable commit each (chain-200: 403 → 203).
      await new Promise(setImmediate);
      this.queuedDrain = undefined;
      await this.drain();
    });
    return this.queuedDrain;
  }

  /** Applies records other writers appended since the last one this host saw, and runs what they owe. */
  refresh(): Promise<void> {
    return this.chain.run(async () => {
      const before = this.lastSeq;
      const cancels = await this.catchUp();
      if (this.lastSeq !== before) this.startOwedEffects();
      for (const cancel of cancels) this.startEffect(cancel);
    });
  }

  /** Resolves when no effect is running (effects that deliver new events are awaited too). */
  async settle(): Promise<void> {
    while (this.effects?.busy === true) {
      await this.effects.running();
      await this.chain.settled;
    }
    await this.chain.settled;
  }

  /**
   * The error of an append that failed for a reason other than a version conflict (storage
   * locked, read-only, full…), or undefined. Such a failure stops the host: what it decided is
   * not durable, so it delivers, decides and starts nothing more; whoever drives it must stop
   * and report this error, and a host restored from the log later resumes where the log is.
   */
  get failure(): unknown {
    return this.stopReason?.error;
  }

  /** Errors raised by effect handlers (they never break the run, but they must not vanish). */
  drainErrors(): unknown[] {
    return this.effects?.drainErrors() ?? [];
  }

  /** True when an effect with this key is running. */
  isInFlight(key: string): boolean {
    return this.effects?.has(key) ?? false;
  }

  /**
   * Applies the records appended since `lastSeq`; returns the attempt cancels their transitions
   * asked for. A command-only writer (a `cancel` beside this host) may cancel an attempt whose start
   * is in flight here: `created` goes straight to `cancelled`, a state that owes nothing, so only
   * the host reading that record can stop what its start launches. Restore ignores them: whether
   * they ran is unknown, and the cancel that wrote them hosts the run itself when nobody does.
   */
  private async catchUp(): Promise<PendingEffect[]> {
    const cancels: PendingEffect[] = [];
    for await (const record of this.log.readRun(this.runId, this.lastSeq)) this.applyRecord(record, cancels);
    return cancels;
  }

  private applyRecord(record: StoredEvent, cancels: PendingEffect[]): void {
    if (isHostVersion(record)) {
      this.lastWriter = parseHostVersion(record);
      this.lastSeq = record.seq;
      return;
    }
    const raw = { ...(record.payload as object), type: record.type };
    let event: AnyEvent;
    try {
      event = record.actor === 'run' ? parseRunEvent(raw) : parseAttemptEvent(raw);
    } catch (error) {
      throw new MatterStackError('INVALID_EVENT', `run ${this.runId} seq ${record.seq}: invalid ${record.type} for ${record.actor}`, {
        runId: this.runId,
        seq: record.seq,
      }, { cause: error });
    }
    const { system, processed } = applyEvent(this.system, record.actor, event);
    if (this.firstDivergence === undefined) this.compareOutcome(record, processed.decision);
    for (const effect of processed.decision.effects) if (effect.type === 'attempt.cancel') cancels.push({ actor: record.actor, effect });
    this.system = system;
    this.lastSeq = record.seq;
  }

  /** Refuses (or, tolerating, notes) a record whose logged outcome the current machines do not reproduce. */
  private compareOutcome(record: StoredEvent, computed: Processed['decision']): void {
    const difference = outcomeDifference(record, computed);
    if (difference === undefined) return;
    const divergence: HistoryDivergence = {
      runId: this.runId,
      seq: record.seq,
      actor: record.actor,
      type: record.type,
      logged: { to: record.to, changes: record.changes },
      computed: { to: computed.to, changes: computed.changes },
      difference,
      writtenBy: this.lastWriter,
      readBy: this.writer,
    };
    if (this.options.tolerateDivergence !== true) throw historyDivergedError(divergence);
    this.firstDivergence = divergence;
  }

  private async drain(): Promise<void> {
    while (this.mailbox.length > 0) {
      const decided = this.decideBatch();
      const items = this.mailbox.splice(0, decided.consumed);
      if (decided.records.length === 0) continue;
      let positions: number[] | undefined;
      try {
        ({ positions } = await this.log.append(this.runId, decided.records, this.lastSeq));
      } catch (error) {
        if (!isMatterStackError(error, 'VERSION_CONFLICT')) {
          this.halt(error);
          throw error;
        }
        // Another writer appended first: adopt its records, then decide our events again.
        let cancels: PendingEffect[];
        try {
          cancels = await this.catchUp();
        } catch (caught) {
          // Its records cannot be taken as they are (unreadable, or decided by other rules): nothing more is decided here.
          this.halt(caught);
          throw caught;
        }
        this.startOwedEffects();
        for (const cancel of cancels) this.startEffect(cancel);
        this.mailbox = items.concat(this.mailbox);
        continue;
      }
      const first = this.lastSeq + 1;
      this.logger.debug({ fromSeq: first, toSeq: this.lastSeq + decided.records.length }, 'appended');
      this.system = decided.system;
      this.lastSeq += decided.records.length;
      this.lastWriter = this.writer;
      const records: StoredEventLike[] = new Array(decided.records.length);
      for (let index = 0; index < decided.records.length; index++) {
        const record = decided.records[index]!;
        const stored: StoredEventLike = {
          seq: first + index,
          actor: record.actor,
          type: record.type,
          time: record.time,
          changes: record.changes,
          position: positions?.[index] ?? null,
        };
        records[index] = stored;
        decided.sinks[index]?.push(stored);
      }
      // Nothing below needs the records' payloads (task specs) any more: let them go before the
      // projections and the effects run (the decided batch lives until this loop turns).
      decided.records.length = 0;
      decided.sinks.length = 0;
      await this.options.onAppended?.(records);
      const { effects } = decided;
      for (let index = 0; index < effects.length; index++) {
        const effect = effects[index] as PendingEffect;
        if (isStillOwed(this.system, effect)) this.startEffect(effect);
        effects[index] = undefined as unknown as PendingEffect;
      }
    }
  }

  /**
   * Decides queued items from the head of the mailbox (without removing them) against a working
   * copy, until the batch holds MAX_BATCH_RECORDS records; noop transitions (polls without change)
   * append nothing. With `autoStep`, a batch that changed something ends with the run's RUN.STEP.
   */
  private decideBatch(): {
    system: RunSystem;
    records: ValidNewEvent[];
    sinks: (StoredEventLike[] | undefined)[];
    effects: PendingEffect[];
    consumed: number;
  } {
    const records: ValidNewEvent[] = [];
    const sinks: (StoredEventLike[] | undefined)[] = [];
    const delivery = new Delivery<StoredEventLike[] | undefined>(this.system, (processed, sink) => {
      if (processed.decision.noop) return;
      records.push(this.toRecord(processed));
      sinks.push(sink);
    });
    let consumed = 0;
    while (consumed < this.mailbox.length && records.length < MAX_BATCH_RECORDS) {
      const item = this.mailbox[consumed] as QueuedItem;
      consumed += 1;
      if (!this.knowsActor(delivery.system, item.actor)) continue;
      delivery.add(item.actor, item.event, item.sink);
    }
    // Held reports belong to this batch: the records that caused them are in it.
    delivery.finish();
    // One step per drain (the last batch), like the drive loop: a step scans the run's tasks.
    const last = consumed === this.mailbox.length;
    const { run } = delivery.system;
    if (this.options.autoStep && last && records.length > 0 && run !== undefined && run.context.status !== 'PAUSED') {
      delivery.add('run', { type: 'RUN.STEP' }, undefined);
      delivery.finish();
    }
    const { system, effects } = delivery;
    // Timed when decided, just before the append: a cascade of 10,000 attempts takes a second to decide, and
    // records timed at its start would look a second old (to a page showing the log live) when they are logged.
    const time = (this.options.now?.() ?? new Date()).toISOString();
    for (const record of records) record.time = time;
    // Whoever reads the log learns who decided what follows (only when the writer changed: the log grows with changes).
    if (records.length > 0 && !sameWriter(this.lastWriter, this.writer)) {
      records.unshift(this.writerRecord(time));
      sinks.unshift(sinks[0]);
    }
    return { system, records, sinks, effects, consumed };
  }

  /** Events for an attempt actor that does not exist (yet, or any more) are dropped, not invented. */
  private knowsActor(system: RunSystem, actor: string): boolean {
    if (actor === 'run') return true;
    return system.attempts.has(actor);
  }

  /** The HOST.VERSION record naming this host's writer (events/host-version.ts). */
  private writerRecord(time: string): ValidNewEvent {
    const { version, machines } = this.writer;
    return { eventId: newEventId(), type: HOST_VERSION_TYPE, actor: 'run', time, payload: { version, machines }, from: null, to: null, changes: [] };
  }

  /** The record of `processed`, its time left for the batch to set once it is decided. */
  private toRecord(processed: Processed): ValidNewEvent {
    const { decision } = processed;
    return {
      eventId: newEventId(),
      type: processed.event.type,
      actor: processed.actor,
      time: '',
      payload: payloadOf(processed.event) as ValidNewEvent['payload'],
      from: decision.from,
      to: decision.to,
      changes: decision.changes,
    };
  }

  /**
   * Stops the host with `error` (see `failure`): on a failed append, or when whoever feeds it
   * cannot read the log any more. Effect reports that swallow their rejection cannot hide it.
   */
  halt(error: unknown): void {
    if (this.stopReason !== undefined) return;
    this.stopReason = { error };
    // Whoever drives the host raises this error (`failure`); the log line says when it stopped.
    this.logger.debug({ err: error }, 'host stopped');
    this.mailbox = [];
    this.effects?.stop();
    this.options.onStopped?.(error);
  }

  private startOwedEffects(): void {
    for (const pending of pendingEffects(this.system)) this.startEffect(pending);
  }

  /**
   * Starts an effect no state of the log owes (the cancel of an attempt a command moved straight
   * from `created` to `cancelled`, whose start may have launched it), capped and de-duplicated like
   * owed ones; `settle` waits for it.
   */
  startUnowed(pending: PendingEffect): void {
    this.startEffect(pending);
  }

  /** Starts or queues an effect (after `halt` the pool starts nothing). */
  private startEffect(pending: PendingEffect): void {
    this.effects?.start(pending);
  }
}
