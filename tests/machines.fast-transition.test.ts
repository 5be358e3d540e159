// machines/fast-transition.ts against XState itself: for every event of random histories, the fast
// path must give the same state value, context and emitted events as XState's pure functions.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assign, createActor, emit, enqueueActions, initialTransition, setup, transition, type AnyActorScope, type AnyStateMachine } from 'xstate';
import { parseAttemptEvent, parseRunEvent, type AttemptEventInput, type RunEventInput } from '../events/run-events.ts';
import { attemptMachine } from '../machines/attempt.machine.ts';
import { fastInitialTransition, fastTransition } from '../machines/fast-transition.ts';
import { runMachine } from '../machines/run.machine.ts';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 60);

function scopeOf(machine: AnyStateMachine): AnyActorScope {
  const self = createActor(machine);
  return { self, system: self.system } as unknown as AnyActorScope;
}

type Snap = { value: unknown; context: unknown; status: string; tags: ReadonlySet<string>; children: object; historyValue: object };
const emitted = (actions: readonly { type: string; params?: unknown }[]): unknown[] =>
  actions.filter((a) => a.type === 'xstate.emit').map((a) => (a.params as { event: unknown }).event);

/** Asserts the fast path equals XState for this step and returns XState's snapshot (the next step starts from it). */
function step(machine: AnyStateMachine, scope: AnyActorScope, prev: Snap | undefined, event: { type: string; [k: string]: unknown }): Snap {
  const [expected, actions] = (prev === undefined ? initialTransition(machine, event as never) : transition(machine, prev as never, event as never)) as unknown as [Snap, { type: string; params?: unknown }[]];
  const fast = prev === undefined ? fastInitialTransition(machine, scope, event) : fastTransition(machine, scope, prev, event);
  expect(fast, `fast path declined ${event.type}`).toBeDefined();
  const [got, gotActions] = fast as unknown as [Snap, { type: string; params?: unknown }[]];
  expect(got.value).toEqual(expected.value);
  expect(got.status).toBe(expected.status);
  expect(JSON.stringify(got.context)).toBe(JSON.stringify(expected.context));
  expect(emitted(gotActions)).toEqual(emitted(actions));
  expect([...got.tags].sort()).toEqual([...expected.tags].sort());
  expect(got.children).toEqual(expected.children);
  expect(got.historyValue).toEqual(expected.historyValue);
  return expected;
}

const STATUSES = ['SUBMITTED', 'RUNNING', 'WAITING_EXTERNAL', 'COMPLETED', 'FAILED', 'CANCELLED', 'FAILED_INIT'] as const;
const attemptEventArb: fc.Arbitrary<AttemptEventInput> = fc.oneof(
  fc.record({ type: fc.constant('ATTEMPT.SUBMITTED' as const), externalId: fc.constantFrom('j1', 'j2'), status: fc.constantFrom('SUBMITTED' as const, 'RUNNING' as const, 'WAITING_EXTERNAL' as const), dir: fc.constant('/tmp/a') }),
  fc.record({ type: fc.constant('ATTEMPT.SUBMIT_FAILED' as const), reason: fc.constant('no') }),
  fc.record({ type: fc.constant('OPERATOR.REPORTED' as const), status: fc.constantFrom('SUBMITTED' as const, 'RUNNING' as const, 'WAITING_EXTERNAL' as const, 'COMPLETED' as const, 'FAILED' as const, 'CANCELLED' as const) }, { requiredKeys: ['type', 'status'] }),
  fc.record({ type: fc.constant('ATTEMPT.RESULTS' as const), files: fc.constant({ 'out.json': 'out.json' }) }),
  fc.record({ type: fc.constant('ATTEMPT.RESULTS_INVALID' as const), files: fc.constant({ 'out.json': 'out.json' }), reason: fc.constant('results.json is not valid JSON') }),
  fc.record({ type: fc.constant('ATTEMPT.COLLECT_FAILED' as const), reason: fc.constant('gone') }),
  fc.record({ type: fc.constant('ATTEMPT.CANCEL' as const), reason: fc.constant('stop') }),
  fc.record({ type: fc.constant('ATTEMPT.CANCELLED' as const) }),
  fc.record({ type: fc.constant('ATTEMPT.APPROVE' as const), by: fc.constant('ann') }),
  fc.record({ type: fc.constant('ATTEMPT.REJECT' as const), comment: fc.constant('bad') }),
);

describe('fast transitions equal XState', () => {
  it('attempt machine: creation (gate or not, failed init or not) and random event sequences', () => {
    const scope = scopeOf(attemptMachine);
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.array(attemptEventArb, { maxLength: 12 }), (gate, initFails, events) => {
        const created = parseAttemptEvent({
          type: 'ATTEMPT.CREATED',
          attemptId: 't1-a1',
          taskId: 't1',
          operatorKey: 'local.default',
          task: { id: 't1', command: 'x', ...(gate ? { kind: 'gate' } : {}) },
          ...(initFails ? { initError: 'no operator' } : {}),
        } as AttemptEventInput);
        let snap = step(attemptMachine, scope, undefined, created);
        for (const event of events) snap = step(attemptMachine, scope, snap, parseAttemptEvent(event));
      }),
      { numRuns: RUNS * 4 },
    );
  });

  it('run machine: plans, steps, reports of any status for any attempt, commands, in random order', () => {
    const scope = scopeOf(runMachine);
    const runEventArb = fc.oneof(
      { weight: 3, arbitrary: fc.constant<RunEventInput>({ type: 'RUN.STEP' }) },
      {
        weight: 6,
        arbitrary: fc.record({ task: fc.integer({ min: 0, max: 4 }), n: fc.integer({ min: 1, max: 2 }), status: fc.constantFrom(...STATUSES) }).map(
          ({ task, n, status }): RunEventInput => ({ type: 'ATTEMPT.REPORTED', attemptId: `t${task}-a${n}`, taskId: `t${task}`, status }),
        ),
      },
      {
        weight: 2,
        arbitrary: fc.record({ verb: fc.constantFrom('CMD.PAUSE', 'CMD.RESUME', 'CMD.CANCEL', 'CMD.REVIVE', 'CMD.RERUN', 'CMD.APPROVE', 'CMD.CANCEL_ATTEMPT'), task: fc.integer({ min: 0, max: 4 }) }).map(({ verb, task }): RunEventInput => {
          if (verb === 'CMD.RERUN' || verb === 'CMD.APPROVE') return { type: verb, taskId: `t${task}` } as RunEventInput;
          if (verb === 'CMD.CANCEL_ATTEMPT') return { type: verb, attemptId: `t${task}-a1` };
          return { type: verb } as RunEventInput;
        }),
      },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map((iteration): RunEventInput => ({ type: 'CAMPAIGN.PLANNED', iteration, workflow: null, state: { iteration } })) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map((iteration): RunEventInput => ({ type: 'CAMPAIGN.FAILED', iteration, reason: 'boom' })) },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.boolean(), fc.array(runEventArb, { maxLength: 40 }), (cap, chain, events) => {
        let snap = step(runMachine, scope, undefined, parseRunEvent({ type: 'RUN.CREATED', workspace: 'ws', maxConcurrent: cap, configuredOperators: ['local.default'] }));
        const tasks = Array.from({ length: 5 }, (_, i) => ({ id: `t${i}`, command: 'x', dependencies: chain && i > 0 ? [`t${i - 1}`] : [], ...(i === 4 ? { kind: 'gate' as const } : {}) }));
        snap = step(runMachine, scope, snap, parseRunEvent({ type: 'CAMPAIGN.PLANNED', iteration: 0, workflow: { tasks }, state: null }));
        for (const event of events) snap = step(runMachine, scope, snap, parseRunEvent(event));
      }),
      { numRuns: RUNS },
    );
  });

  // Statechart corners our machines do not exercise: nested states, transitions to an ancestor,
  // to a deep descendant, re-entering ones, eventless chains, exit/entry/initial action order.
  const trace = (label: string) => ({ type: 'trace' as const, params: { label } });
  const corners = setup({
    types: { context: {} as { trace: string[]; n: number }, events: {} as { type: 'UP' } | { type: 'DEEP' } | { type: 'SELF' } | { type: 'BUMP' } | { type: 'SIB' } | { type: 'NOOP' } },
    guards: { big: ({ context }) => context.n >= 2 },
    actions: { trace: assign(({ context }, params: { label: string }) => ({ trace: [...context.trace, params.label] })) },
  }).createMachine({
    id: 'corners',
    context: { trace: [], n: 0 },
    initial: 'a',
    entry: trace('root-entry'),
    states: {
      a: {
        initial: 'a1',
        tags: ['in-a'],
        entry: trace('a-entry'),
        exit: trace('a-exit'),
        on: { UP: { target: 'a', actions: trace('up') }, SELF: { target: 'a', reenter: true, actions: trace('self') }, DEEP: '#corners.b.b2.deep' },
        states: {
          a1: { entry: trace('a1-entry'), exit: trace('a1-exit'), on: { SIB: 'a2' } },
          a2: { tags: ['second', 'in-a-too'], entry: [trace('a2-entry'), emit({ type: 'in-a2' })], exit: trace('a2-exit'), on: { SIB: { target: 'a1', reenter: true } } },
        },
      },
      b: {
        initial: 'b1',
        entry: trace('b-entry'),
        states: {
          b1: { always: { guard: 'big', target: 'b2' }, on: { BUMP: { actions: assign({ n: ({ context }) => context.n + 1 }) } } },
          b2: {
            initial: 'shallow',
            entry: enqueueActions(({ enqueue, context }) => {
              enqueue.assign({ trace: [...context.trace, 'b2-entry'] });
              enqueue.emit({ type: 'in-b2' });
            }),
            states: { shallow: { tags: ['shallow'] }, deep: { entry: trace('deep-entry'), on: { UP: '#corners.a' } } },
          },
        },
        on: { SIB: 'a', BUMP: { actions: trace('never: b1 handles it') } },
      },
    },
  });

  it('a machine with nested, re-entering and eventless transitions', () => {
    const scope = scopeOf(corners);
    const eventArb = fc.constantFrom({ type: 'UP' }, { type: 'DEEP' }, { type: 'SELF' }, { type: 'BUMP' }, { type: 'SIB' }, { type: 'NOOP' });
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 20 }), (events) => {
        let snap = step(corners, scope, undefined, { type: 'xstate.init' });
        for (const event of events) snap = step(corners, scope, snap, event);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('declines what it does not implement (parallel states, wildcard events, throwing guards), so XState decides those', () => {
    const parallel = setup({}).createMachine({ type: 'parallel', context: {}, states: { x: {}, y: {} } });
    const parallelScope = scopeOf(parallel);
    expect(fastTransition(parallel, parallelScope, parallel.getInitialSnapshot(parallelScope), { type: 'GO' })).toBeUndefined();

    const wildcard = setup({}).createMachine({ initial: 'a', context: {}, states: { a: { on: { 'x.*': 'b' } }, b: {} } });
    const wildcardScope = scopeOf(wildcard);
    expect(fastTransition(wildcard, wildcardScope, wildcard.getInitialSnapshot(wildcardScope), { type: 'x.y' })).toBeUndefined();

    const throwing = setup({ guards: { broken: () => { throw new Error('guard bug'); } } }).createMachine({ initial: 'a', context: {}, states: { a: { on: { GO: { guard: 'broken', target: 'b' } } }, b: {} } });
    const throwingScope = scopeOf(throwing);
    expect(fastTransition(throwing, throwingScope, throwing.getInitialSnapshot(throwingScope), { type: 'GO' })).toBeUndefined();
  });
});
