import { createActor, type AnyActorScope, type AnyStateMachine, type SnapshotFrom } from 'xstate';
import type { DomainChange } from '../events/changes.ts';
import type { LoggedStateValue } from '../events/envelope.ts';
import { MatterStackError } from '../events/errors.ts';
import type { AttemptEvent, RunEvent } from '../events/run-events.ts';
import { attemptMachine } from './attempt.machine.ts';
import { attemptChanges, runChanges } from './changes.ts';
import type { Effect } from './effects.ts';
import type { CommandOutcome, Message, Outgoing } from './outgoing.ts';
import { runMachine } from './run.machine.ts';
import { fastInitialTransition, fastTransition } from './fast-transition.ts';

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

/** Splits the `xstate.emit` actions of a pure transition into effects, messages and command outcomes. */
function collect(actions: readonly { type: string; params?: unknown }[]): Collected {
  const out: Collected = { effects: [], messages: [], commands: [] };
  for (const action of actions) {
    if (action.type !== 'xstate.emit') continue;
    const emitted = (action.params as { event: Outgoing }).event;
    if (emitted.type === 'effect') out.effects.push(emitted.effect);
    else if (emitted.type === 'message') out.messages.push(emitted.message);
    else out.commands.push(emitted.outcome);
  }
  return out;
}

function sameContext(a: object, b: object): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => (a as Record<string, unknown>)[k] === (b as Record<string, unknown>)[k]);
}

/**
 * XState's pure `transition()`/`initialTransition()` build a throw-away actor per call, and that
 * actor eagerly computes the machine's initial snapshot (our context factories, with no input):
 * about half the cost of every transition (measured). The scope is inert (nothing is executed,
 * actions are only collected), so one per machine is reused; the calls below do exactly what
 * XState's do with it. Our machines spawn no children, so the shared actor system stays empty.
 */
const scopes = new WeakMap<AnyStateMachine, AnyActorScope>();
const ignore = (): void => undefined;

function inertScope(logic: AnyStateMachine): AnyActorScope {
  let scope = scopes.get(logic);
  if (scope === undefined) {
    const self = createActor(logic);
    scope = { self, defer: ignore, id: '', logger: ignore, sessionId: '', stopChild: ignore, system: self.system, emit: ignore, actionExecutor: ignore } as unknown as AnyActorScope;
    scopes.set(logic, scope);
  }
  return scope;
}

type Action = { type: string; params?: unknown };

function withCollectedActions<T>(logic: AnyStateMachine, run: (scope: AnyActorScope) => T): [T, Action[]] {
  const actions: Action[] = [];
  const scope = inertScope(logic);
  (scope as unknown as { actionExecutor: (a: Action) => void }).actionExecutor = (action) => {
    actions.push(action);
  };
  try {
    return [run(scope), actions];
  } finally {
    (scope as unknown as { actionExecutor: (a: Action) => void }).actionExecutor = ignore;
  }
}

/** XState's pure transition: computed by `fastTransition` where the machine allows, else by XState. */
function transition<M extends AnyStateMachine>(machine: M, snapshot: SnapshotFrom<M>, event: unknown): [SnapshotFrom<M>, Action[]] {
  const fast = fastTransition(machine, inertScope(machine), snapshot, event as { type: string });
  if (fast !== undefined) return fast as [SnapshotFrom<M>, Action[]];
  return withCollectedActions(machine, (scope) => machine.transition(snapshot, event as never, scope) as SnapshotFrom<M>);
}

/** XState's pure initial transition, fast where the machine allows (see `transition`). */
function initialTransition<M extends AnyStateMachine>(machine: M, input: unknown): [SnapshotFrom<M>, Action[]] {
  const fast = fastInitialTransition(machine, inertScope(machine), input);
  if (fast !== undefined) return fast as [SnapshotFrom<M>, Action[]];
  return withCollectedActions(machine, (scope) => machine.getInitialSnapshot(scope, input) as SnapshotFrom<M>);
}

const valueOf = (snapshot: { value: unknown }): LoggedStateValue => snapshot.value as LoggedStateValue;

/** Decides a run event: RUN.CREATED without a snapshot creates the run; anything else needs one. */
export function decideRun(snapshot: RunSnapshot | undefined, event: RunEvent): RunDecision {
  if (snapshot === undefined) {
    if (event.type !== 'RUN.CREATED') throw new MatterStackError('INVALID_EVENT', `${event.type} before RUN.CREATED`, { type: event.type });
    const [next, actions] = initialTransition(runMachine, event);
    const { effects, messages } = collect(actions);
    const changes = runChanges(undefined, next.context, undefined, next.value, event, []);
    return { snapshot: next, from: null, to: valueOf(next), changes, effects, messages, noop: false };
  }
  if (event.type === 'RUN.CREATED') throw new MatterStackError('RUN_EXISTS', 'RUN.CREATED for a run that exists');
  const [next, actions] = transition(runMachine, snapshot, event);
  const { effects, messages, commands } = collect(actions);
  const changes = runChanges(snapshot.context, next.context, snapshot.value, next.value, event, commands);
  const noop =
    changes.length === 0 && effects.length === 0 && messages.length === 0 &&
    JSON.stringify(snapshot.value) === JSON.stringify(next.value) && sameContext(snapshot.context, next.context);
  return { snapshot: noop ? snapshot : next, from: valueOf(snapshot), to: valueOf(next), changes, effects, messages, noop };
}

/** Decides an attempt event: ATTEMPT.CREATED without a snapshot creates the actor; anything else needs one. */
export function decideAttempt(snapshot: AttemptSnapshot | undefined, event: AttemptEvent): AttemptDecision {
  if (snapshot === undefined) {
    if (event.type !== 'ATTEMPT.CREATED') throw new MatterStackError('INVALID_EVENT', `${event.type} before ATTEMPT.CREATED`, { type: event.type });
    const [next, actions] = initialTransition(attemptMachine, event);
    const { effects, messages } = collect(actions);
    return { snapshot: next, from: null, to: valueOf(next), changes: attemptChanges(undefined, next.context, event), effects, messages, noop: false };
  }
  if (event.type === 'ATTEMPT.CREATED') {
    throw new MatterStackError('INVALID_EVENT', `attempt ${snapshot.context.attemptId} already exists`, { attemptId: snapshot.context.attemptId });
  }
  const [next, actions] = transition(attemptMachine, snapshot, event);
  const { effects, messages } = collect(actions);
  const changes = attemptChanges(snapshot.context, next.context, event);
  const noop =
    changes.length === 0 && effects.length === 0 && messages.length === 0 &&
    JSON.stringify(snapshot.value) === JSON.stringify(next.value) && sameContext(snapshot.context, next.context);
  return { snapshot: noop ? snapshot : next, from: valueOf(snapshot), to: valueOf(next), changes, effects, messages, noop };
}
