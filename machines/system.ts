import type { DomainChange } from '../events/changes.ts';
import type { LoggedStateValue } from '../events/envelope.ts';
import { MatterStackError } from '../events/errors.ts';
import { isHostVersion, parseHostVersion } from '../events/host-version.ts';
import { parseAttemptEvent, parseRunEvent, type AttemptEvent, type AttemptReport, type RunEvent } from '../events/run-events.ts';
import { decideAttempt, decideRun, type AttemptSnapshot, type Decision, type RunSnapshot } from './decide.ts';
import type { Effect } from './effects.ts';
import { PersistentMap } from './persistent-map.ts';

/** The actors of one run: the run snapshot and its attempt snapshots (the host keeps the same). */
export interface RunSystem {
  run: RunSnapshot | undefined;
  attempts: ReadonlyMap<string, AttemptSnapshot>;
}

/** One processed event: exactly what the host appends as one log record (plus the decision). */
export interface Processed {
  actor: string;
  event: RunEvent | AttemptEvent;
  decision: Decision<RunSnapshot> | Decision<AttemptSnapshot>;
}

/** A log record as the replayer needs it: the actor and the event it processed. */
export interface LoggedEvent {
  actor: string;
  type: string;
  payload: unknown;
}

/** An empty system: no run yet. */
export function emptySystem(): RunSystem {
  return { run: undefined, attempts: PersistentMap.empty() };
}

/** Folds one event into one actor of the system (no routing, no effects): the replay step. */
export function applyEvent(system: RunSystem, actor: string, event: RunEvent | AttemptEvent): { system: RunSystem; processed: Processed } {
  if (actor === 'run') {
    const decision = decideRun(system.run, event as RunEvent);
    return { system: { run: decision.snapshot, attempts: system.attempts }, processed: { actor, event, decision } };
  }
  const decision = decideAttempt(system.attempts.get(actor), event as AttemptEvent);
  // Persistent map: O(1) per event instead of copying every attempt of the run (the input stays valid).
  const base = system.attempts instanceof PersistentMap ? system.attempts : PersistentMap.from(system.attempts);
  const attempts = base.get(actor) === decision.snapshot ? base : base.set(actor, decision.snapshot);
  return { system: { run: system.run, attempts }, processed: { actor, event, decision } };
}

/** Receives each processed event of a `Delivery` as it is decided, with the tag of the delivery that caused it. */
export type ProcessedSink<Tag> = (processed: Processed, tag: Tag) => void;

/**
 * Delivers events and, FIFO, every message they cause (attempt reports to the run, run commands to
 * attempts) — the host's mailbox loop without effects. Attempt reports for the run are held and
 * reach it together, as one ATTEMPTS.REPORTED (ATTEMPT.REPORTED when alone), just before the run's
 * next event and at `finish`: the run handles a report the same in every state, so holding it
 * changes no outcome, and 1,000 reports cost one transition and one record instead of 1,000.
 * Processed events go to the sink as they are decided, tagged (a held report's record: with the
 * tag of its first report); nothing here keeps them. Pure: the input system is not modified.
 */
export class Delivery<Tag> {
  /** The system after everything delivered so far. */
  system: RunSystem;
  /** Effects to run once the records are durable, in the order their transitions asked for them. */
  readonly effects: { actor: string; effect: Effect }[] = [];
  private readonly sink: ProcessedSink<Tag>;
  private readonly queue: { actor: string; event: RunEvent | AttemptEvent; tag: Tag }[] = [];
  private held: { reports: AttemptReport[]; tag: Tag } | undefined;

  constructor(system: RunSystem, sink: ProcessedSink<Tag>) {
    this.system = system;
    this.sink = sink;
  }

  /** Delivers `event` to `actor`, then every message it causes (reports for the run are held). */
  add(actor: string, event: RunEvent | AttemptEvent, tag: Tag): void {
    this.queue.push({ actor, event, tag });
    this.drain();
  }

  /** Delivers the held reports to the run, and whatever they cause. */
  finish(): void {
    while (this.held !== undefined) {
      this.release();
      this.drain();
    }
  }

  private drain(): void {
    for (let i = 0; i < this.queue.length; i++) {
      const item = this.queue[i] as { actor: string; event: RunEvent | AttemptEvent; tag: Tag };
      if (item.actor === 'run' && item.event.type === 'ATTEMPT.REPORTED') {
        const { type: _type, ...report } = item.event;
        if (this.held === undefined) this.held = { reports: [report], tag: item.tag };
        else this.held.reports.push(report);
        continue;
      }
      if (item.actor === 'run') this.release();
      this.apply(item.actor, item.event, item.tag);
    }
    this.queue.length = 0;
  }

  /** Decides the held reports now (their messages join the queue). */
  private release(): void {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    const [first] = held.reports;
    const event: RunEvent =
      held.reports.length === 1 && first !== undefined ? { type: 'ATTEMPT.REPORTED', ...first } : { type: 'ATTEMPTS.REPORTED', reports: held.reports };
    this.apply('run', event, held.tag);
  }

  private apply(actor: string, event: RunEvent | AttemptEvent, tag: Tag): void {
    const step = applyEvent(this.system, actor, event);
    this.system = step.system;
    const { decision } = step.processed;
    for (const effect of decision.effects) this.effects.push({ actor, effect });
    for (const message of decision.messages) this.queue.push({ actor: message.to, event: message.event, tag });
    this.sink(step.processed, tag);
  }
}

/** Delivers one event and everything it causes (see `Delivery`): the records in processing order and the effects. */
export function deliver(
  system: RunSystem,
  actor: string,
  event: RunEvent | AttemptEvent,
): { system: RunSystem; processed: Processed[]; effects: { actor: string; effect: Effect }[] } {
  const processed: Processed[] = [];
  const delivery = new Delivery<undefined>(system, (p) => processed.push(p));
  delivery.add(actor, event, undefined);
  delivery.finish();
  return { system: delivery.system, processed, effects: delivery.effects };
}

/** What replay reports for each record: its transition and domain facts (for `replay` / `--verify`). */
export interface ReplayStep {
  index: number;
  actor: string;
  type: string;
  from: LoggedStateValue | null;
  to: LoggedStateValue;
  changes: DomainChange[];
}

/**
 * Folds logged events through the deciders — no effects, no routing (routed messages are records
 * of their own). Events are validated as read back; HOST.VERSION records (who wrote what follows)
 * are validated and change no actor (`onStep` skips their index). The views and `replay --verify`
 * use it; `onStep` sees every transition (compare `to`/`changes` with the logged ones to verify).
 */
export function replay(records: Iterable<LoggedEvent>, onStep?: (step: ReplayStep) => void): RunSystem {
  let system = emptySystem();
  let index = 0;
  for (const record of records) {
    if (isHostVersion(record)) {
      parseHostVersion(record);
      index += 1;
      continue;
    }
    const raw = { ...(record.payload as object), type: record.type };
    let event: RunEvent | AttemptEvent;
    try {
      event = record.actor === 'run' ? parseRunEvent(raw) : parseAttemptEvent(raw);
    } catch (error) {
      throw new MatterStackError('INVALID_EVENT', `record ${index}: invalid ${record.type} for ${record.actor}`, { index }, { cause: error });
    }
    const step = applyEvent(system, record.actor, event);
    system = step.system;
    const { from, to, changes } = step.processed.decision;
    onStep?.({ index, actor: record.actor, type: record.type, from, to, changes });
    index += 1;
  }
  return system;
}

/** The payload of an event as logged: the event without its `type`. */
export function payloadOf(event: RunEvent | AttemptEvent): Record<string, unknown> {
  const { type: _type, ...payload } = event;
  return payload;
}
