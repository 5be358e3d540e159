import { adjacencyMapToArray, getAdjacencyMap, getShortestPaths, getSimplePaths, type AdjacencyMap } from '@xstate/graph';
import { describe, expect, it } from 'vitest';
import { fromTransition, type AnyActorLogic } from 'xstate';
import { isActiveAttemptStatus, TERMINAL_RUN_STATUSES, taskStatusOfAttempt } from '../events/statuses.ts';
import { parseAttemptEvent, parseRunEvent, type AttemptEvent } from '../events/run-events.ts';
import { attemptMachine } from '../machines/attempt.machine.ts';
import { decideAttempt, type AttemptDecision, type AttemptSnapshot } from '../machines/decide.ts';
import { tasksInOrder } from '../machines/run-context.ts';
import { deliver, emptySystem, type RunSystem } from '../machines/system.ts';

// ---------- attempt machine: every path over representative events ----------

const created = parseAttemptEvent({
  type: 'ATTEMPT.CREATED', attemptId: 'g-a1', taskId: 'g', operatorKey: 'human.default', task: { id: 'g', kind: 'gate' },
}) as Extract<AttemptEvent, { type: 'ATTEMPT.CREATED' }>;

const attemptEvents: AttemptEvent[] = [
  { type: 'ATTEMPT.SUBMITTED', externalId: 'x', status: 'SUBMITTED' },
  { type: 'ATTEMPT.SUBMITTED', externalId: 'x', status: 'WAITING_EXTERNAL' },
  { type: 'ATTEMPT.SUBMIT_FAILED', reason: 'boom' },
  { type: 'OPERATOR.REPORTED', status: 'RUNNING' },
  { type: 'OPERATOR.REPORTED', status: 'COMPLETED' },
  { type: 'OPERATOR.REPORTED', status: 'FAILED', reason: 'exit 1' },
  { type: 'OPERATOR.REPORTED', status: 'CANCELLED' },
  { type: 'OPERATOR.REPORTED', status: 'COMPLETED', results: { type: 'ATTEMPT.RESULTS', files: { 'out.txt': '/a/out.txt' } } },
  { type: 'OPERATOR.REPORTED', status: 'COMPLETED', results: { type: 'ATTEMPT.RESULTS_INVALID', files: {}, reason: 'results.json is not valid JSON' } },
  { type: 'OPERATOR.REPORTED', status: 'FAILED', reason: 'exit 2', results: { type: 'ATTEMPT.COLLECT_FAILED', reason: 'gone' } },
  { type: 'ATTEMPT.RESULTS', files: {} },
  { type: 'ATTEMPT.RESULTS_INVALID', files: {}, reason: 'results.json is not valid JSON' },
  { type: 'ATTEMPT.COLLECT_FAILED', reason: 'gone' },
  { type: 'ATTEMPT.CANCEL' },
  { type: 'ATTEMPT.CANCELLED' },
  { type: 'ATTEMPT.APPROVE' },
  { type: 'ATTEMPT.REJECT', comment: 'no' },
];

const STATUS_OF_STATE: Record<string, string[]> = {
  created: ['CREATED'],
  submitted: ['SUBMITTED'],
  running: ['RUNNING'],
  waiting_external: ['WAITING_EXTERNAL'],
  cancelling: ['SUBMITTED', 'RUNNING', 'WAITING_EXTERNAL'],
  completed: ['COMPLETED'],
  failed: ['FAILED'],
  failed_init: ['FAILED_INIT'],
  cancelled: ['CANCELLED'],
};
/** Where an attempt ends: every later event changes nothing. */
const FINAL_ATTEMPT_STATES = ['{"completed":"collected"}', '{"failed":"collected"}', '"failed_init"', '"cancelled"'];
const phase = (value: unknown) => (typeof value === 'string' ? value : Object.keys(value as object)[0] ?? '');

/** Replays a path's events through the decider and checks the invariants at every state. */
function checkAttemptPath(events: AttemptEvent[]): AttemptDecision[] {
  const decisions: AttemptDecision[] = [decideAttempt(undefined, created)];
  for (const event of events) decisions.push(decideAttempt(decisions.at(-1)!.snapshot, event));
  let reportedTerminal = 0;
  let collects = 0;
  for (const d of decisions) {
    const ctx = d.snapshot.context;
    expect(STATUS_OF_STATE[phase(d.to)]).toContain(ctx.status); // state value and status agree
    for (const m of d.messages) {
      expect(reportedTerminal).toBe(0); // nothing is reported after the terminal report
      if (m.event.type === 'ATTEMPT.REPORTED') {
        expect(m.event.status).toBe(ctx.status); // reports say what the attempt is
        if (!isActiveAttemptStatus(m.event.status)) reportedTerminal += 1;
      }
    }
    collects += d.effects.filter((e) => e.type === 'attempt.collect').length;
    if (d.effects.some((e) => e.type === 'attempt.collect')) expect(['COMPLETED', 'FAILED']).toContain(ctx.status);
  }
  const last = decisions.at(-1)!;
  expect(collects).toBeLessThanOrEqual(1);
  const collected = JSON.stringify(last.to).includes('collected');
  if (collected || ['failed_init', 'cancelled'].includes(phase(last.to))) expect(reportedTerminal).toBe(1);
  return decisions;
}

describe('attempt machine model (@xstate/graph)', () => {
  const options = { input: created, events: attemptEvents };

  it('every state is reachable by a shortest path and the decider agrees with the machine along it', () => {
    const paths = getShortestPaths(attemptMachine, options);
    const reached = new Set(paths.map((p) => JSON.stringify(p.state.value)));
    for (const value of ['created', 'submitted', 'running', 'waiting_external', 'cancelling', 'failed_init', 'cancelled']) {
      expect(reached).toContain(JSON.stringify(value));
    }
    expect(reached).toContain(JSON.stringify({ completed: 'collected' }));
    expect(reached).toContain(JSON.stringify({ failed: 'collected' }));
    for (const path of paths) {
      const events = path.steps.slice(1).map((s) => s.event as AttemptEvent);
      const decisions = checkAttemptPath(events);
      expect(decisions.at(-1)!.snapshot.value).toEqual(path.state.value);
    }
  });

  it('every simple path keeps the invariants (one terminal report, at most one collect, status follows state)', () => {
    const paths = getSimplePaths(attemptMachine, options);
    expect(paths.length).toBeGreaterThan(20);
    for (const path of paths) checkAttemptPath(path.steps.slice(1).map((s) => s.event as AttemptEvent));
  });

  it('every edge of the graph (each event in each reachable state): the decider reaches the machine\'s target, and final states absorb everything', () => {
    // The machine's emitted-event type defeats getAdjacencyMap's inference (getShortestPaths takes any logic): typed back here.
    const adjacency: AdjacencyMap<AttemptSnapshot, AttemptEvent> = getAdjacencyMap(attemptMachine as AnyActorLogic, options);
    const edges = adjacencyMapToArray(adjacency);
    let finalEdges = 0;
    for (const { state: source, event, nextState: target } of edges) {
      {
        const decision = decideAttempt(source, event);
        expect(decision.snapshot.value).toEqual(target.value);
        expect(decision.snapshot.context.status).toBe(target.context.status);
        expect(STATUS_OF_STATE[phase(target.value)]).toContain(target.context.status);
        for (const m of decision.messages) if (m.event.type === 'ATTEMPT.REPORTED') expect(m.event.status).toBe(target.context.status);
        if (decision.effects.some((e) => e.type === 'attempt.collect')) expect(['COMPLETED', 'FAILED']).toContain(target.context.status);
        if (decision.noop) expect(decision.changes).toEqual([]);
        if (FINAL_ATTEMPT_STATES.includes(JSON.stringify(source.value))) {
          finalEdges += 1;
          expect(decision.noop, `${JSON.stringify(source.value)} + ${event.type}`).toBe(true);
          expect([decision.messages, decision.effects]).toEqual([[], []]);
        }
      }
    }
    expect(Object.values(adjacency).map((v) => JSON.stringify(v.state.value))).toEqual(expect.arrayContaining(['"cancelling"', ...FINAL_ATTEMPT_STATES]));
    // Every event is tried in every state: no edge is left out.
    expect(edges).toHaveLength(Object.keys(adjacency).length * attemptEvents.length);
    expect(finalEdges).toBeGreaterThanOrEqual(FINAL_ATTEMPT_STATES.length * attemptEvents.length);
  });
});

// ---------- a small run configuration: the whole system as one logic ----------

type ModelEvent =
  | { type: 'STEP' } | { type: 'OP_START' } | { type: 'OP_COMPLETE' } | { type: 'OP_FAIL' } | { type: 'COLLECT' }
  | { type: 'PAUSE' } | { type: 'RESUME' } | { type: 'CANCEL' } | { type: 'REVIVE' } | { type: 'RERUN_A' } | { type: 'PLAN_NULL' };

const modelEvents: ModelEvent[] = ['STEP', 'OP_START', 'OP_COMPLETE', 'OP_FAIL', 'COLLECT', 'PAUSE', 'RESUME', 'CANCEL', 'REVIVE', 'RERUN_A', 'PLAN_NULL'].map(
  (type) => ({ type }) as ModelEvent,
);

function firstAttemptIn(sys: RunSystem, phases: string[]): string | undefined {
  return [...sys.attempts.entries()].sort(([a], [b]) => a.localeCompare(b)).find(([, s]) => phases.includes(JSON.stringify(s.value)))?.[0];
}

function step(sys: RunSystem, event: ModelEvent): RunSystem {
  const run = (e: unknown) => deliver(sys, 'run', parseRunEvent(e)).system;
  const att = (id: string | undefined, e: unknown) => (id === undefined ? sys : deliver(sys, id, parseAttemptEvent(e)).system);
  const ctx = sys.run!.context;
  switch (event.type) {
    case 'STEP': return run({ type: 'RUN.STEP' });
    case 'OP_START': return att(firstAttemptIn(sys, ['"created"']), { type: 'ATTEMPT.SUBMITTED', externalId: 'x', status: 'RUNNING' });
    case 'OP_COMPLETE': return att(firstAttemptIn(sys, ['"running"', '"cancelling"']), { type: 'OPERATOR.REPORTED', status: 'COMPLETED' });
    case 'OP_FAIL': return att(firstAttemptIn(sys, ['"running"']), { type: 'OPERATOR.REPORTED', status: 'FAILED' });
    case 'COLLECT': return att(firstAttemptIn(sys, ['{"completed":"collecting"}', '{"failed":"collecting"}']), { type: 'ATTEMPT.RESULTS', files: {} });
    case 'PAUSE': return run({ type: 'CMD.PAUSE' });
    case 'RESUME': return run({ type: 'CMD.RESUME' });
    case 'CANCEL': return run({ type: 'CMD.CANCEL' });
    case 'REVIVE': return run({ type: 'CMD.REVIVE' });
    case 'RERUN_A': return run({ type: 'CMD.RERUN', taskId: 'a' });
    case 'PLAN_NULL': return ctx.awaitingPlan !== null && ctx.status !== 'PENDING' ? run({ type: 'CAMPAIGN.PLANNED', iteration: ctx.awaitingPlan, workflow: null, state: {} }) : sys;
  }
}

function initialSystem(): RunSystem {
  let sys = deliver(emptySystem(), 'run', parseRunEvent({ type: 'RUN.CREATED', workspace: 'ws', maxConcurrent: 1, configuredOperators: ['local.default'] })).system;
  sys = deliver(sys, 'run', parseRunEvent({
    type: 'CAMPAIGN.PLANNED', iteration: 0, state: null,
    workflow: { tasks: [{ id: 'a', command: 'x' }, { id: 'b', command: 'y', dependencies: ['a'] }] },
  })).system;
  return sys;
}

const serialize = (sys: RunSystem) =>
  JSON.stringify([sys.run?.value, sys.run?.context.status, [...tasksInOrder(sys.run!.context)].map((t) => [t.status, t.attempts, t.current?.status]),
    [...sys.attempts.entries()].sort().map(([id, s]) => [id, s.value])]);

/** The invariants of one reachable run system: cap 1, tasks follow their attempts, terminal runs have nothing left to dispatch. */
function checkRunState(sys: RunSystem): void {
  const ctx = sys.run!.context;
  expect(Object.keys(ctx.active).length).toBeLessThanOrEqual(1);
  const [a, b] = [...tasksInOrder(ctx)];
  for (const t of [a!, b!]) {
    if (t.current !== null) expect(t.status).toBe(taskStatusOfAttempt(t.current.status));
    else expect(['PENDING', 'SKIPPED']).toContain(t.status);
  }
  if (ctx.status === 'COMPLETED') expect([a!.status, b!.status]).toEqual(['COMPLETED', 'COMPLETED']);
  if (ctx.status === 'FAILED') expect(ctx.reason).toMatch(/failed tasks: /);
  if (TERMINAL_RUN_STATUSES.includes(ctx.status) && ctx.status !== 'CANCELLED') expect(ctx.active).toEqual({});
}

/** b is only ever dispatched (its attempt count grows) in a step where a is COMPLETED. */
function checkDispatchOrder(before: RunSystem, after: RunSystem): void {
  const [, bBefore] = [...tasksInOrder(before.run!.context)];
  const [aAfter, bAfter] = [...tasksInOrder(after.run!.context)];
  if (bAfter!.attempts > bBefore!.attempts) expect(aAfter!.status).toBe('COMPLETED');
}

/** The events that may take a run out of each terminal status (anything else leaves it there). */
const LEAVES_TERMINAL: Record<string, string[]> = { COMPLETED: ['RERUN_A'], FAILED: ['REVIVE', 'RERUN_A'], CANCELLED: ['REVIVE'] };

describe('run model: two dependent tasks, cap 1 (@xstate/graph over the deciders)', () => {
  const logic = fromTransition((sys: RunSystem, event: ModelEvent) => step(sys, event), initialSystem());
  const traversal = {
    events: modelEvents,
    serializeState: (snapshot: { context: RunSystem }) => serialize(snapshot.context),
    // Bound the space: reruns create new attempts without end.
    stopWhen: (snapshot: { context: RunSystem }) => [...tasksInOrder(snapshot.context.run!.context)].some((t) => t.attempts > 2),
  };
  const paths = getShortestPaths(logic, traversal);

  it('reaches completed, failed, cancelled and paused', () => {
    const statuses = new Set(paths.map((p) => p.state.context.run!.context.status));
    for (const status of ['RUNNING', 'PAUSED', 'COMPLETED', 'FAILED', 'CANCELLED']) expect(statuses).toContain(status);
    expect(paths.length).toBeGreaterThan(50);
  });

  it('in every reachable state: cap 1 holds, b never runs before a completed, tasks follow their attempts, terminal runs have nothing left to dispatch', () => {
    for (const path of paths) {
      checkRunState(path.state.context);
      for (let i = 1; i < path.steps.length; i++) checkDispatchOrder(path.steps[i - 1]!.state.context, path.steps[i]!.state.context);
    }
  });

  it('on every edge of the graph (each event in each reachable state, not only shortest paths): the invariants hold, delivery is deterministic, terminal runs leave only by revive or rerun', () => {
    const adjacency = getAdjacencyMap(logic, traversal);
    const edges = adjacencyMapToArray(adjacency);
    for (const { state: source, event, nextState: target } of edges) {
      const from = source.context.run!.context.status;
      {
        checkRunState(target.context);
        checkDispatchOrder(source.context, target.context);
        // The same event in the same state leads to the same state (the machines are pure).
        expect(serialize(step(source.context, event))).toBe(serialize(target.context));
        const to = target.context.run!.context.status;
        if (from in LEAVES_TERMINAL && to !== from) expect(LEAVES_TERMINAL[from], `${from} + ${event.type} -> ${to}`).toContain(event.type);
        if (from === 'PAUSED' && to === 'PAUSED') {
          const grew = [...tasksInOrder(target.context.run!.context)].some((t, i) => t.attempts > [...tasksInOrder(source.context.run!.context)][i]!.attempts);
          expect(grew, `PAUSED + ${event.type} dispatched`).toBe(false);
        }
      }
    }
    // Every event is tried in every state inside the bound: no edge is left out.
    const bounded = Object.values(adjacency).filter((v) => traversal.stopWhen(v.state)).length;
    expect(edges).toHaveLength((Object.keys(adjacency).length - bounded) * modelEvents.length);
    expect(edges.length).toBeGreaterThan((paths.length * modelEvents.length) / 2);
  });
});
