import { createActor, type Actor, type AnyMachineSnapshot, type AnyStateMachine, type EventFromLogic, type InputFrom, type SnapshotFrom } from 'xstate';
import type { Outgoing } from './outgoing.ts';

/** A snapshot and what its transition emitted, in order. */
export interface Stepped<M extends AnyStateMachine> {
  snapshot: SnapshotFrom<M>;
  emitted: Outgoing[];
}

interface Live<M extends AnyStateMachine> {
  actor: Actor<AnyStateMachine>;
  /** Emitted by the step being taken (the actor's wildcard listener fills it). */
  emitted: Outgoing[];
  failure: { error: unknown } | undefined;
}

/**
 * Steps a machine through XState's public actor API, keeping the actor that produced a snapshot
 * for the next event on that snapshot. XState's pure `transition()` builds a throw-away actor
 * and computes the machine's initial snapshot on every call: for an attempt's three events that
 * was the larger part of its cost. The actor is found by the snapshot it produced (a WeakMap, so
 * it lives as long as that snapshot) and taken out of the map when used: a second step from the
 * same snapshot (a decision retried) restores a new actor from it, so each step stays a function
 * of (snapshot, event). `keep` says which snapshots may still receive events worth an actor
 * (an attempt at rest keeps none: there are 100,000 of those in a large run). A kept actor costs
 * ~5 KB: with `limit`, at most that many are kept (the oldest go first, and their snapshots step
 * by restoring an actor), so 10,000 attempts running at once do not hold 50 MB of actors.
 */
export class ActorStepper<M extends AnyStateMachine> {
  private readonly machine: M;
  private readonly keep: (snapshot: SnapshotFrom<M>) => boolean;
  private readonly limit: number;
  /** Ordered (oldest first) when bounded; weak when not, so an actor lives as long as its snapshot. */
  private readonly actors: Map<object, Live<M>> | WeakMap<object, Live<M>>;

  constructor(machine: M, keep: (snapshot: SnapshotFrom<M>) => boolean, limit?: number) {
    this.machine = machine;
    this.keep = keep;
    this.limit = limit ?? Number.POSITIVE_INFINITY;
    this.actors = limit === undefined ? new WeakMap() : new Map();
  }

  /** The machine's initial snapshot for `input`, with what its entry emitted. */
  initial(input: InputFrom<M>): Stepped<M> {
    const live = this.start({ input });
    return this.settle(live);
  }

  /** The snapshot after `event`, with what the transition emitted (throws what a guard or action threw). */
  step(snapshot: SnapshotFrom<M>, event: EventFromLogic<M>): Stepped<M> {
    let live = this.actors.get(snapshot);
    if (live === undefined) live = this.start({ snapshot });
    else this.actors.delete(snapshot);
    live.actor.send(event);
    return this.settle(live);
  }

  /**
   * A step that changed nothing hands back the snapshot it was given (machines/decide.ts): the
   * actor kept for the equivalent `next` is kept for `previous` instead, so the next event does
   * not restore one from the whole context.
   */
  unchanged(previous: SnapshotFrom<M>, next: SnapshotFrom<M>): void {
    const live = this.actors.get(next);
    if (live === undefined) return;
    this.actors.delete(next);
    this.actors.set(previous, live);
  }

  /** True when an actor is kept for `snapshot` (its next step restores none). */
  holds(snapshot: SnapshotFrom<M>): boolean {
    return this.actors.has(snapshot);
  }

  private start(options: { input: InputFrom<M> } | { snapshot: SnapshotFrom<M> }): Live<M> {
    const actor = createActor(this.machine as AnyStateMachine, options);
    const live: Live<M> = { actor, emitted: [], failure: undefined };
    actor.on('*', (emitted) => live.emitted.push(emitted as unknown as Outgoing));
    actor.subscribe({ error: (error) => (live.failure = { error }) });
    actor.start();
    return live;
  }

  private settle(live: Live<M>): Stepped<M> {
    const snapshot: AnyMachineSnapshot = live.actor.getSnapshot();
    if (live.failure !== undefined) throw live.failure.error;
    if (snapshot.status === 'error') throw snapshot.error;
    const emitted = live.emitted;
    live.emitted = [];
    const next = snapshot as SnapshotFrom<M>;
    if (snapshot.status === 'active' && this.keep(next)) this.remember(snapshot, live);
    return { snapshot: next, emitted };
  }

  private remember(snapshot: object, live: Live<M>): void {
    this.actors.set(snapshot, live);
    if (this.actors instanceof Map && this.actors.size > this.limit) this.actors.delete(this.actors.keys().next().value as object);
  }
}
