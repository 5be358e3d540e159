import { getShortestPaths } from '@xstate/graph';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromTransition } from 'xstate';
import { parseAttemptEvent, parseRunEvent } from '../events/run-events.ts';
import { tasksInOrder, type TaskEntry } from '../machines/run-context.ts';
import { failureKind, matchesRetryOn, retryDelayMs, shouldRetry } from '../machines/rules/retry.ts';
import { deliver, emptySystem, type RunSystem } from '../machines/system.ts';
import { Harness } from './machines.harness.ts';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 50);

/** A run with `tasks` planned and one cycle done. */
function started(tasks: Record<string, unknown>[]): Harness {
  const h = new Harness();
  h.plan(tasks as never);
  h.step();
  return h;
}

describe('retry rule (retries: N, retryOn)', () => {
  it('failure kinds: Slurm states keep their name, lost, exit codes, local time limits count as TIMEOUT', () => {
    expect(failureKind('TIMEOUT: Slurm job 12')).toBe('TIMEOUT');
    expect(failureKind('NODE_FAIL: Slurm job 3, exit code 1')).toBe('NODE_FAIL');
    expect(failureKind('lost: Slurm job 9 is no longer known')).toBe('lost');
    expect(failureKind('exit code 3')).toBe('exit code 3');
    expect(failureKind('time limit of 1 minute(s) exceeded: process group killed')).toBe('TIMEOUT');
    expect(matchesRetryOn(['TIMEOUT', 'lost'], 'TIMEOUT: Slurm job 1')).toBe(true);
    expect(matchesRetryOn(['timeout'], 'time limit of 1 minute(s) exceeded')).toBe(true);
    expect(matchesRetryOn(['lost'], 'LOST: x')).toBe(true);
    expect(matchesRetryOn(['NODE_FAIL'], 'exit code 1')).toBe(false);
    expect(matchesRetryOn(['exit code 3'], 'exit code 3')).toBe(true);
    expect(matchesRetryOn(undefined, 'anything')).toBe(true);
  });

  it('a failed attempt of a task with retries gets a new attempt on the next cycle; the reason of the retry is kept', () => {
    const h = started([{ id: 'a', command: 'x', retries: 2 }]);
    h.start('a-a1');
    h.finish('a-a1', 'FAILED', 'exit code 1');
    expect(h.status('a')).toBe('PENDING');
    expect(h.task('a').reason).toBe('retry 1 of 2 after attempt a-a1 failed: exit code 1');
    expect(h.task('a').current).toBeNull();
    expect(h.lastChanges()).toContainEqual({ kind: 'task.status', taskId: 'a', status: 'PENDING', reason: 'retry 1 of 2 after attempt a-a1 failed: exit code 1' });
    h.step();
    expect(h.active()).toEqual(['a-a2']);
    expect(h.task('a').attempts).toBe(2);
    h.start('a-a2');
    h.finish('a-a2', 'FAILED', 'exit code 1');
    h.step();
    expect(h.active()).toEqual(['a-a3']);
    h.start('a-a3');
    h.finish('a-a3', 'FAILED', 'exit code 2');
    // Retries exhausted: the task fails and so does the run.
    expect(h.status('a')).toBe('FAILED');
    expect(h.task('a').reason).toBe('exit code 2');
    h.step();
    expect(h.ctx.status).toBe('FAILED');
    // Every attempt stays: three attempt actors, each with its own failure.
    expect([...h.system.attempts.keys()].sort()).toEqual(['a-a1', 'a-a2', 'a-a3']);
  });

  it('retryOn limits retries to the listed failure kinds', () => {
    const h = started([{ id: 'a', command: 'x', retries: 3, retryOn: ['TIMEOUT', 'lost'] }, { id: 'b', command: 'y', retries: 3, retryOn: ['TIMEOUT'] }]);
    h.start('a-a1');
    h.finish('a-a1', 'FAILED', 'TIMEOUT: Slurm job 1');
    expect(h.status('a')).toBe('PENDING');
    h.start('b-a1');
    h.finish('b-a1', 'FAILED', 'OUT_OF_MEMORY: Slurm job 2');
    expect(h.status('b')).toBe('FAILED');
  });

  it('a task that succeeds on a retry completes the run; cancellations are never retried', () => {
    const h = started([{ id: 'a', command: 'x', retries: 1 }, { id: 'c', command: 'z', retries: 5 }]);
    h.start('a-a1');
    h.finish('a-a1', 'FAILED', 'lost: gone');
    h.step();
    h.complete('a-a2');
    expect(h.status('a')).toBe('COMPLETED');
    h.start('c-a1');
    h.attempt('c-a1', { type: 'OPERATOR.REPORTED', status: 'CANCELLED' });
    expect(h.status('c')).toBe('CANCELLED');
  });

  it('rerun resets the retry budget; backoff doubles per retry and is capped', () => {
    const entry = (retried: number, base?: number): TaskEntry => ({
      spec: { id: 'a', kind: 'compute', dependencies: [], allowFailure: false, allowDependencyFailure: false, retries: 9, ...(base !== undefined ? { retryBackoffSeconds: base } : {}) },
      iteration: 0, status: 'PENDING', attempts: retried + 1, current: null, retried,
    });
    expect(retryDelayMs(entry(0))).toBe(0);
    expect(retryDelayMs(entry(1))).toBe(10_000);
    expect(retryDelayMs(entry(3, 1))).toBe(4000);
    expect(retryDelayMs(entry(30, 1))).toBe(600_000);
    const h = started([{ id: 'a', command: 'x', retries: 1 }]);
    h.start('a-a1');
    h.finish('a-a1', 'FAILED', 'exit code 1');
    h.step();
    h.start('a-a2');
    h.finish('a-a2', 'FAILED', 'exit code 1');
    h.step();
    expect(h.ctx.status).toBe('FAILED');
    h.run({ type: 'CMD.RERUN', taskId: 'a' });
    expect(h.task('a').retried).toBeUndefined();
    h.step();
    h.start('a-a3');
    h.finish('a-a3', 'FAILED', 'exit code 1');
    expect(h.status('a')).toBe('PENDING');
  });
});

describe('retry property: attempts ≤ retries + 1, the task fails only once its budget or retryOn says so', () => {
  const outcomeArb = fc.array(fc.constantFrom('COMPLETED', 'TIMEOUT', 'NODE_FAIL', 'exit', 'CANCELLED'), { minLength: 1, maxLength: 8 });
  it('holds for random failure sequences', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.option(fc.subarray(['TIMEOUT', 'NODE_FAIL', 'exit code 1']), { nil: undefined }), outcomeArb, (retries, retryOn, outcomes) => {
        const h = started([{ id: 'a', command: 'x', retries, ...(retryOn !== undefined ? { retryOn } : {}) }]);
        let n = 1;
        for (const outcome of outcomes) {
          const id = `a-a${n}`;
          if (!h.system.attempts.has(id) || h.task('a').current?.id !== id) break;
          h.start(id);
          const before = h.task('a');
          if (outcome === 'CANCELLED') h.attempt(id, { type: 'OPERATOR.REPORTED', status: 'CANCELLED' });
          else if (outcome === 'COMPLETED') h.finish(id, 'COMPLETED');
          else {
            const reason = outcome === 'exit' ? 'exit code 1' : `${outcome}: Slurm job ${n}`;
            const expectRetry = shouldRetry(before, 'FAILED', reason);
            h.finish(id, 'FAILED', reason);
            expect(h.status('a')).toBe(expectRetry ? 'PENDING' : 'FAILED');
          }
          h.step();
          n += 1;
        }
        const a = h.task('a');
        expect(a.attempts).toBeLessThanOrEqual(retries + 1);
        expect(a.retried ?? 0).toBeLessThanOrEqual(retries);
        expect(h.system.attempts.size).toBe(a.attempts);
        if (a.status === 'FAILED') expect(h.ctx.status).toBe('FAILED');
      }),
      { numRuns: RUNS * 4 },
    );
  });
});

// ---------- model: one task with retries: 2 and retryOn [TIMEOUT], explored with @xstate/graph ----------

type ModelEvent = { type: 'STEP' } | { type: 'START' } | { type: 'TIMEOUT' } | { type: 'OOM' } | { type: 'COMPLETE' } | { type: 'COLLECT' } | { type: 'CANCEL' } | { type: 'PLAN_NULL' };
const modelEvents: ModelEvent[] = ['STEP', 'START', 'TIMEOUT', 'OOM', 'COMPLETE', 'COLLECT', 'CANCEL', 'PLAN_NULL'].map((type) => ({ type }) as ModelEvent);

function current(sys: RunSystem, state: string): string | undefined {
  return [...sys.attempts.entries()].sort(([a], [b]) => a.localeCompare(b)).find(([, s]) => JSON.stringify(s.value) === state)?.[0];
}

function step(sys: RunSystem, event: ModelEvent): RunSystem {
  const att = (id: string | undefined, e: unknown) => (id === undefined ? sys : deliver(sys, id, parseAttemptEvent(e)).system);
  switch (event.type) {
    case 'STEP': return deliver(sys, 'run', parseRunEvent({ type: 'RUN.STEP' })).system;
    case 'START': return att(current(sys, '"created"'), { type: 'ATTEMPT.SUBMITTED', externalId: '1', status: 'RUNNING' });
    case 'TIMEOUT': return att(current(sys, '"running"'), { type: 'OPERATOR.REPORTED', status: 'FAILED', reason: 'TIMEOUT: Slurm job 1' });
    case 'OOM': return att(current(sys, '"running"'), { type: 'OPERATOR.REPORTED', status: 'FAILED', reason: 'OUT_OF_MEMORY: Slurm job 1' });
    case 'COMPLETE': return att(current(sys, '"running"'), { type: 'OPERATOR.REPORTED', status: 'COMPLETED' });
    case 'COLLECT': return att(current(sys, '{"failed":"collecting"}') ?? current(sys, '{"completed":"collecting"}'), { type: 'ATTEMPT.RESULTS', files: {} });
    case 'CANCEL': return deliver(sys, 'run', parseRunEvent({ type: 'CMD.CANCEL' })).system;
    case 'PLAN_NULL': {
      const waiting = sys.run!.context.awaitingPlan;
      return waiting !== null && sys.run!.context.status !== 'PENDING'
        ? deliver(sys, 'run', parseRunEvent({ type: 'CAMPAIGN.PLANNED', iteration: waiting, workflow: null, state: {} })).system
        : sys;
    }
  }
}

function initialSystem(): RunSystem {
  let sys = deliver(emptySystem(), 'run', parseRunEvent({ type: 'RUN.CREATED', workspace: 'ws', maxConcurrent: 1, configuredOperators: ['hpc.cluster'] })).system;
  sys = deliver(sys, 'run', parseRunEvent({
    type: 'CAMPAIGN.PLANNED', iteration: 0, state: null,
    workflow: { tasks: [{ id: 'a', command: 'x', operatorKey: 'hpc.cluster', retries: 2, retryOn: ['TIMEOUT'] }] },
  })).system;
  return sys;
}

describe('retry model (@xstate/graph over the deciders)', () => {
  const serialize = (sys: RunSystem) =>
    JSON.stringify([sys.run?.value, sys.run?.context.status, [...tasksInOrder(sys.run!.context)].map((t) => [t.status, t.attempts, t.retried, t.current?.status]),
      [...sys.attempts.entries()].sort().map(([id, s]) => [id, s.value, s.context.reason])]);
  const logic = fromTransition((sys: RunSystem, event: ModelEvent) => step(sys, event), initialSystem());
  const paths = getShortestPaths(logic, { events: modelEvents, serializeState: (s) => serialize(s.context) });

  it('reaches completion after retries, failure after the budget, failure on a non-retryable kind, and cancel', () => {
    const finals = paths.map((p) => {
      const [a] = [...tasksInOrder(p.state.context.run!.context)];
      return `${p.state.context.run!.context.status}/${a!.attempts}`;
    });
    for (const want of ['COMPLETED/1', 'COMPLETED/2', 'COMPLETED/3', 'FAILED/1', 'FAILED/3', 'CANCELLED/2']) expect(finals).toContain(want);
  });

  it('in every reachable state: at most 3 attempts, one active at a time, the task fails only when it may not retry', () => {
    for (const path of paths) {
      const sys = path.state.context;
      const ctx = sys.run!.context;
      const [a] = [...tasksInOrder(ctx)];
      expect(a!.attempts).toBeLessThanOrEqual(3);
      expect(Object.keys(ctx.active).length).toBeLessThanOrEqual(1);
      expect(sys.attempts.size).toBe(a!.attempts);
      if (a!.status === 'FAILED') {
        const last = sys.attempts.get(`a-a${a!.attempts}`)!.context;
        expect(last.status).toBe('FAILED');
        // Not retried: a kind retryOn does not list, the budget is spent, or the run was cancelled.
        expect(last.reason?.startsWith('OUT_OF_MEMORY') || a!.attempts === 3 || ctx.status === 'CANCELLED').toBe(true);
      }
      if (a!.status === 'PENDING' && a!.attempts > 0 && a!.current === null) expect(a!.reason).toMatch(/^retry \d of 2 after attempt a-a\d failed: TIMEOUT/);
    }
  });
});
