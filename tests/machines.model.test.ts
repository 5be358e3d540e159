import { getShortestPaths, getSimplePaths } from '@xstate/graph';
import { describe, expect, it } from 'vitest';
import { fromTransition } from 'xstate';
import { isActiveAttemptStatus, TERMINAL_RUN_STATUSES, taskStatusOfAttempt } from '../events/statuses.ts';
import { parseAttemptEvent, parseRunEvent, type AttemptEvent } from '../events/run-events.ts';
import { attemptMachine } from '../machines/attempt.machine.ts';
import { decideAttempt, type AttemptDecision } from '../machines/decide.ts';
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

describe('run model: two dependent tasks, cap 1 (@xstate/graph over the deciders)', () => {
  const logic = fromTransition((sys: RunSystem, event: ModelEvent) => step(sys, event), initialSystem());
  const paths = getShortestPaths(logic, {
    events: modelEvents,
    serializeState: (snapshot) => serialize(snapshot.context),
    // Bound the space: reruns create new attempts without end.
    stopWhen: (snapshot) => [...tasksInOrder(snapshot.context.run!.context)].some((t) => t.attempts > 2),
  });

  it('reaches completed, failed, cancelled and paused', () => {
    const statuses = new Set(paths.map((p) => p.state.context.run!.context.status));
    for (const status of ['RUNNING', 'PAUSED', 'COMPLETED', 'FAILED', 'CANCELLED']) expect(statuses).toContain(status);
    expect(paths.length).toBeGreaterThan(50);
  });

  it('in every reachable state: cap 1 holds, b never runs before a completed, tasks follow their attempts, terminal runs have nothing left to dispatch', () => {
    for (const path of paths) {
      const ctx = path.state.context.run!.context;
      expect(Object.keys(ctx.active).length).toBeLessThanOrEqual(1);
      const [a, b] = [...tasksInOrder(ctx)];
      // b is only ever dispatched (its attempt count grows) in a step where a is COMPLETED.
      for (let i = 1; i < path.steps.length; i++) {
        const before = [...tasksInOrder(path.steps[i - 1]!.state.context.run!.context)];
        const after = [...tasksInOrder(path.steps[i]!.state.context.run!.context)];
        if (after[1]!.attempts > before[1]!.attempts) expect(after[0]!.status).toBe('COMPLETED');
      }
      for (const t of [a!, b!]) {
        if (t.current !== null) expect(t.status).toBe(taskStatusOfAttempt(t.current.status));
        else expect(['PENDING', 'SKIPPED']).toContain(t.status);
      }
      if (ctx.status === 'COMPLETED') expect([a!.status, b!.status]).toEqual(['COMPLETED', 'COMPLETED']);
      if (ctx.status === 'FAILED') expect(ctx.reason).toMatch(/failed tasks: /);
      if (TERMINAL_RUN_STATUSES.includes(ctx.status) && ctx.status !== 'CANCELLED') expect(ctx.active).toEqual({});
    }
  });
});
