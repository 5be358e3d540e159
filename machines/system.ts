import type { DomainChange } from '../events/changes.ts';
import type { LoggedStateValue } from '../events/envelope.ts';
import { MatterStackError } from '../events/errors.ts';
import { parseAttemptEvent, parseRunEvent, type AttemptEvent, type RunEvent } from '../events/run-events.ts';
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

/**
 * Delivers an event and, FIFO, every message it causes (attempt reports to the run, run commands
 * to attempts) — the host's mailbox loop without effects. Returns the records in processing
 * order and the effects to run once they are durable. Pure: the input system is not modified.
 */
export function deliver(
  system: RunSystem,
  actor: string,
  event: RunEvent | AttemptEvent,
): { system: RunSystem; processed: Processed[]; effects: { actor: string; effect: Effect }[] } {
  const queue: { actor: string; event: RunEvent | AttemptEvent }[] = [{ actor, event }];
  const processed: Processed[] = [];
  const effects: { actor: string; effect: Effect }[] = [];
  let current = system;
  for (let i = 0; i < queue.length; i++) {
    const item = queue[i] as { actor: string; event: RunEvent | AttemptEvent };
    const step = applyEvent(current, item.actor, item.event);
    current = step.system;
    processed.push(step.processed);
    for (const effect of step.processed.decision.effects) effects.push({ actor: item.actor, effect });
    for (const message of step.processed.decision.messages) queue.push({ actor: message.to, event: message.event });
  }
  return { system: current, processed, effects };
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
 * of their own). Events are validated as read back. The restore path and `replay --verify` use it;
 * `onStep` sees every transition (compare `to`/`changes` with the logged ones to verify).
 */
export function replay(records: Iterable<LoggedEvent>, onStep?: (step: ReplayStep) => void): RunSystem {
  let system = emptySystem();
  let index = 0;
  for (const record of records) {
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
