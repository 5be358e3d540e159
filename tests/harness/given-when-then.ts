// Given/when/then for the machines' rules (as Emmett's decider specifications): given the records of a
// run's log, when one more event reaches one actor, then its decision emits exactly these domain changes.
import { expect } from 'vitest';
import type { DomainChange } from '../../events/changes.ts';
import { parseAttemptEvent, parseRunEvent, type AttemptEventInput, type RunEventInput } from '../../events/run-events.ts';
import { decideAttempt, decideRun, type AttemptDecision, type RunDecision } from '../../machines/decide.ts';
import { payloadOf, replay, type LoggedEvent } from '../../machines/system.ts';

/** A record of the run actor's log. */
export type RunRecord = LoggedEvent & { actor: 'run' };

/** A log record for the run actor. */
export function toRun(event: RunEventInput): RunRecord {
  const parsed = parseRunEvent(event);
  return { actor: 'run', type: parsed.type, payload: payloadOf(parsed) };
}

/** A log record for attempt actor `attemptId`. */
export function toAttempt(attemptId: string, event: AttemptEventInput): LoggedEvent {
  const parsed = parseAttemptEvent(event);
  return { actor: attemptId, type: parsed.type, payload: payloadOf(parsed) };
}

/** What `when` leads to: the decision, checked against the changes it must emit. */
export interface Then<D> {
  /** Asserts the decision emits exactly `changes` (in order); returns it for checks on effects and messages. */
  then(changes: readonly DomainChange[]): D;
  /** Asserts the decision changes nothing: no change, no effect, no message, the snapshot kept. */
  thenNothing(): D;
}

/** The event `record` brings to its actor. */
export interface When {
  when(record: RunRecord): Then<RunDecision>;
  when(record: LoggedEvent): Then<AttemptDecision>;
}

/** The expectations on one decision. */
function expectations<D extends RunDecision | AttemptDecision>(decision: D): Then<D> {
  return {
    then(changes) {
      expect(decision.changes).toEqual(changes);
      return decision;
    },
    thenNothing() {
      expect(decision.changes).toEqual([]);
      expect([decision.effects, decision.messages]).toEqual([[], []]);
      expect(decision.noop).toBe(true);
      return decision;
    },
  };
}

/** Folds `history` (records as logged, validated as read back) and lets `when` decide one more. */
export function given(...history: LoggedEvent[]): When {
  const system = replay(history);
  function when(record: RunRecord): Then<RunDecision>;
  function when(record: LoggedEvent): Then<AttemptDecision>;
  function when(record: LoggedEvent): Then<RunDecision> | Then<AttemptDecision> {
    const raw = { ...(record.payload as object), type: record.type };
    if (record.actor === 'run') return expectations(decideRun(system.run, parseRunEvent(raw)));
    return expectations(decideAttempt(system.attempts.get(record.actor), parseAttemptEvent(raw)));
  }
  return { when };
}
