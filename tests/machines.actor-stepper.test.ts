import { describe, expect, it } from 'vitest';
import { assign, emit, setup } from 'xstate';
import { ActorStepper } from '../machines/actor-stepper.ts';
import type { Outgoing } from '../machines/outgoing.ts';

type CounterEvent = { type: 'ADD'; by: number } | { type: 'BOOM' } | { type: 'STOP' };

const message = (n: number): Outgoing => ({ type: 'command', outcome: { verb: `add ${n}`, accepted: true } });

/** A counter that emits one outcome per addition (before and after its assign), throws on BOOM, rests on STOP. */
const counter = setup({
  types: { context: {} as { total: number }, events: {} as CounterEvent, input: {} as { start: number }, emitted: {} as Outgoing },
  guards: {
    explodes: () => {
      throw new Error('guard exploded');
    },
  },
}).createMachine({
  context: ({ input }) => ({ total: input.start }),
  entry: emit(({ context }) => message(context.total)),
  initial: 'counting',
  states: {
    counting: {
      on: {
        ADD: { actions: [emit(({ event }) => message(event.by)), assign({ total: ({ context, event }) => context.total + event.by }), emit(({ context }) => message(context.total))] },
        BOOM: { guard: 'explodes', target: 'resting' },
        STOP: 'resting',
      },
    },
    resting: {},
  },
});

const verbs = (emitted: Outgoing[]): string[] => emitted.map((e) => (e.type === 'command' ? e.outcome.verb : e.type));

describe('optimisation: the actor stepper keeps an actor per snapshot', () => {
  const stepper = new ActorStepper(counter, (snapshot) => snapshot.value !== 'resting');

  it('gives the initial snapshot and what its entry emitted', () => {
    const first = stepper.initial({ start: 5 });
    expect(first.snapshot.context).toEqual({ total: 5 });
    expect(verbs(first.emitted)).toEqual(['add 5']);
  });

  it('emits in action order, and a step retried from the same snapshot gives the same result (the kept actor is used once)', () => {
    const first = stepper.initial({ start: 1 });
    const a = stepper.step(first.snapshot, { type: 'ADD', by: 2 });
    const again = stepper.step(first.snapshot, { type: 'ADD', by: 2 });
    expect(a.snapshot.context).toEqual({ total: 3 });
    expect(again.snapshot.context).toEqual({ total: 3 });
    expect(verbs(a.emitted)).toEqual(['add 2', 'add 3']);
    expect(verbs(again.emitted)).toEqual(verbs(a.emitted));
    const b = stepper.step(a.snapshot, { type: 'ADD', by: 10 });
    expect(b.snapshot.context).toEqual({ total: 13 });
    expect(first.snapshot.context).toEqual({ total: 1 });
  });

  it('rethrows what a guard throws, and the snapshot it came from still steps', () => {
    const first = stepper.initial({ start: 0 });
    expect(() => stepper.step(first.snapshot, { type: 'BOOM' })).toThrow('guard exploded');
    expect(stepper.step(first.snapshot, { type: 'ADD', by: 1 }).snapshot.context).toEqual({ total: 1 });
  });

  it('steps a snapshot it keeps no actor for (at rest, or made elsewhere) by restoring one', () => {
    const rested = stepper.step(stepper.initial({ start: 4 }).snapshot, { type: 'STOP' });
    expect(rested.snapshot.value).toBe('resting');
    const after = stepper.step(rested.snapshot, { type: 'ADD', by: 1 });
    expect(after.snapshot.value).toBe('resting');
    expect(after.snapshot.context).toEqual({ total: 4 });
    expect(after.emitted).toEqual([]);
    const elsewhere = new ActorStepper(counter, () => true).initial({ start: 7 }).snapshot;
    expect(stepper.step(elsewhere, { type: 'ADD', by: 1 }).snapshot.context).toEqual({ total: 8 });
  });

  it('after a step that changed nothing, the actor is kept for the snapshot handed back (as decide does), not restored from it', () => {
    const first = stepper.initial({ start: 2 });
    const added = stepper.step(first.snapshot, { type: 'ADD', by: 0 });
    expect(added.snapshot.context).toEqual(first.snapshot.context);
    expect(stepper.holds(first.snapshot)).toBe(false);
    expect(stepper.holds(added.snapshot)).toBe(true);
    stepper.unchanged(first.snapshot, added.snapshot);
    expect(stepper.holds(first.snapshot)).toBe(true);
    expect(stepper.holds(added.snapshot)).toBe(false);
    const next = stepper.step(first.snapshot, { type: 'ADD', by: 3 });
    expect(next.snapshot.context).toEqual({ total: 5 });
    expect(verbs(next.emitted)).toEqual(['add 3', 'add 5']);
  });

  it('with a limit, keeps only the latest actors; the others still step (restored), with the same outcome', () => {
    const bounded = new ActorStepper(counter, () => true, 1);
    const a = bounded.initial({ start: 1 });
    const b = bounded.initial({ start: 100 });
    const fromA = bounded.step(a.snapshot, { type: 'ADD', by: 1 });
    expect(fromA.snapshot.context).toEqual({ total: 2 });
    expect(verbs(fromA.emitted)).toEqual(['add 1', 'add 2']);
    expect(bounded.step(b.snapshot, { type: 'ADD', by: 1 }).snapshot.context).toEqual({ total: 101 });
  });
});
