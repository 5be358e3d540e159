import type { SnapshotFrom } from 'xstate';
import type { DomainChange } from '../events/changes.ts';
import type { LoggedStateValue } from '../events/envelope.ts';
import { MatterStackError } from '../events/errors.ts';
import type { AttemptEvent, RunEvent } from '../events/run-events.ts';
import { ActorStepper } from './actor-stepper.ts';
import { attemptMachine } from './attempt.machine.ts';
import { attemptChanges, runChanges } from './changes.ts';
import type { Effect } from './effects.ts';
import type { CommandOutcome, Message, Outgoing } from './outgoing.ts';
import { runMachine } from './run.machine.ts';

export type RunSnapshot = SnapshotFrom<typeof runMachine>;
export type AttemptSnapshot = SnapshotFrom<typeof attemptMachine>;

/**
 * What one event does to one actor — the contract shared by the host, the replayer and the tests.
 * The host appends `{actor, event, from, to, changes}`, adopts `snapshot`, routes `messages` into
 * the mailbox and, once the append is durable, runs `effects` (write-ahead). Replay ignores
 * effects and messages (routed messages are records of their own in the log).
 */
export interface Decision<S> {
  /** The actor's next snapshot (the same object when the event changed nothing). */
  snapshot: S;
  /** State values before (null for the event that creates the actor) and after, as logged. */
  from: LoggedStateValue | null;
  to: LoggedStateValue;
  /** The domain facts of this transition (projections fold these), deterministic. */
  changes: DomainChange[];
  /** Work for the host, serialisable, idempotent by attempt id. */
  effects: Effect[];
  /** Events for other actors of the run: 'run' or an attempt id. */
  messages: Message[];
  /** Nothing changed and nothing to do: the host may skip the append (the log grows with changes). */
  noop: boolean;
}

export type RunDecision = Decision<RunSnapshot>;
export type AttemptDecision = Decision<AttemptSnapshot>;

interface Collected {
  effects: Effect[];
  messages: Message[];
  commands: CommandOutcome[];
}

/** Splits what a transition emitted into effects, messages and command outcomes. */
function collect(emitted: readonly Outgoing[]): Collected {
  const out: Collected = { effects: [], messages: [], commands: [] };
  for (const event of emitted) {
    if (event.type === 'effect') out.effects.push(event.effect);
    else if (event.type === 'message') out.messages.push(event.message);
    else out.commands.push(event.outcome);
  }
  return out;
}

function sameContext(a: object, b: object): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => (a as Record<string, unknown>)[k] === (b as Record<string, unknown>)[k]);
}

// Transitions go through XState's public actor API only (`createActor`, `send`, `getSnapshot`,
// `on`): no hand-built actor scope, no reading of its internals. An actor is kept per snapshot
// while more events may come (machines/actor-stepper.ts); reports to the run arrive gathered
// (machines/system.ts), so the run takes one transition for many attempts.
const runStepper = new ActorStepper(runMachine, () => true);
// An attempt at rest (ended and reported) rarely gets another event: no actor is kept for it; of
// the active ones, the latest 1,024 keep theirs (caps keep far fewer running in a run).
const RESTING = new Set(['failed_init', 'cancelled']);
const attemptStepper = new ActorStepper(
  attemptMachine,
  (snapshot) => (typeof snapshot.value === 'string' ? !RESTING.has(snapshot.value) : Object.values(snapshot.value)[0] !== 'collected'),
  1024,
);
const valueOf = (snapshot: { value: unknown }): LoggedStateValue => snapshot.value as LoggedStateValue;

/** Decides a run event: RUN.CREATED without a snapshot creates the run; anything else needs one. */
export function decideRun(snapshot: RunSnapshot | undefined, event: RunEvent): RunDecision {
  if (snapshot === undefined) {
    if (event.type !== 'RUN.CREATED') throw new MatterStackError('INVALID_EVENT', `${event.type} before RUN.CREATED`, { type: event.type });
    const { snapshot: next, emitted } = runStepper.initial(event);
    const { effects, messages } = collect(emitted);
    const changes = runChanges(undefined, next.context, undefined, next.value, event, []);
    return { snapshot: next, from: null, to: valueOf(next), changes, effects, messages, noop: false };
  }
  if (event.type === 'RUN.CREATED') throw new MatterStackError('RUN_EXISTS', 'RUN.CREATED for a run that exists');
  const { snapshot: next, emitted } = runStepper.step(snapshot, event);
  const { effects, messages, commands } = collect(emitted);
  const changes = runChanges(snapshot.context, next.context, snapshot.value, next.value, event, commands);
  const noop =
    changes.length === 0 && effects.length === 0 && messages.length === 0 &&
    JSON.stringify(snapshot.value) === JSON.stringify(next.value) && sameContext(snapshot.context, next.context);
  if (noop) runStepper.unchanged(snapshot, next);
  return { snapshot: noop ? snapshot : next, from: valueOf(snapshot), to: valueOf(next), changes, effects, messages, noop };
}

/** Decides an attempt event: ATTEMPT.CREATED without a snapshot creates the actor; anything else needs one. */
export function decideAttempt(snapshot: AttemptSnapshot | undefined, event: AttemptEvent): AttemptDecision {
  if (snapshot === undefined) {
    if (event.type !== 'ATTEMPT.CREATED') throw new MatterStackError('INVALID_EVENT', `${event.type} before ATTEMPT.CREATED`, { type: event.type });
    const { snapshot: next, emitted } = attemptStepper.initial(event);
    const { effects, messages } = collect(emitted);
    return { snapshot: next, from: null, to: valueOf(next), changes: attemptChanges(undefined, next.context, event), effects, messages, noop: false };
  }
  if (event.type === 'ATTEMPT.CREATED') {
    throw new MatterStackError('INVALID_EVENT', `attempt ${snapshot.context.attemptId} already exists`, { attemptId: snapshot.context.attemptId });
  }
  const { snapshot: next, emitted } = attemptStepper.step(snapshot, event);
  const { effects, messages } = collect(emitted);
  const changes = attemptChanges(snapshot.context, next.context, event);
  const noop =
    changes.length === 0 && effects.length === 0 && messages.length === 0 &&
    JSON.stringify(snapshot.value) === JSON.stringify(next.value) && sameContext(snapshot.context, next.context);
  if (noop) attemptStepper.unchanged(snapshot, next);
  return { snapshot: noop ? snapshot : next, from: valueOf(snapshot), to: valueOf(next), changes, effects, messages, noop };
}
