import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { taskStatusOfAttempt, TERMINAL_RUN_STATUSES, TERMINAL_TASK_STATUSES } from '../events/statuses.ts';
import { anyEndedUncompleted, awaitsDispatch, endedUncompleted, getTask, tasksAwaitingDispatch, tasksInOrder } from '../machines/run-context.ts';
import { activeCounts } from '../machines/rules/slots.ts';
import { replay, type ReplayStep } from '../machines/system.ts';
import { busyAttempts, Harness, operate, operateBusy, playAction, type Action } from './machines.harness.ts';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 50);
const OPERATORS = ['local.default', 'hpc.default', 'bad.op'] as const;

/** A random DAG: task i may depend on any earlier task; then the list is permuted (order ≠ topology). */
const workflowArb = fc
  .integer({ min: 1, max: 8 })
  .chain((n) =>
    fc.tuple(
      fc.tuple(
        ...Array.from({ length: n }, (_, i) =>
          fc.record({
            deps: fc.subarray(Array.from({ length: i }, (_, j) => `t${j}`), { maxLength: Math.min(3, i) }),
            allowFailure: fc.boolean(),
            allowDependencyFailure: fc.boolean(),
            op: fc.constantFrom(...OPERATORS, undefined, undefined),
          }),
        ),
      ),
      fc.shuffledSubarray(Array.from({ length: n }, (_, i) => i), { minLength: n, maxLength: n }),
    ),
  )
  .map(([specs, order]) =>
    order.map((i) => {
      const s = specs[i]!;
      return {
        id: `t${i}`,
        command: 'x',
        dependencies: s.deps,
        allowFailure: s.allowFailure,
        allowDependencyFailure: s.allowDependencyFailure,
        ...(s.op !== undefined ? { operatorKey: s.op } : {}),
      };
    }),
  );

const configArb = fc.record({
  maxConcurrent: fc.integer({ min: 1, max: 4 }),
  hpcCap: fc.integer({ min: 1, max: 2 }),
});


const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'step' as const }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('operator' as const), pick: fc.nat(), outcome: fc.constantFrom('COMPLETED' as const, 'FAILED' as const, 'WAITING_EXTERNAL' as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('command' as const),
      verb: fc.constantFrom('pause' as const, 'resume' as const, 'cancel' as const, 'revive' as const, 'rerun' as const, 'rerun-r' as const, 'cancel-attempt' as const),
      pick: fc.nat(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'campaign' as const }) },
);

/** The campaign's answer in these tests: the run's single workflow is its last. */
function finishCampaign(h: Harness): void {
  if (h.ctx.awaitingPlan !== null && h.ctx.status !== 'PENDING') h.plan(null, h.ctx.awaitingPlan, { done: true });
}

/** The per-bucket tallies behind `tasksAwaitingDispatch` and `anyEndedUncompleted` agree with a scan of every task. */
function checkBucketTallies(ctx: Harness['ctx']): void {
  const all = [...tasksInOrder(ctx)];
  expect([...tasksAwaitingDispatch(ctx)].map((e) => e.spec.id)).toEqual(all.filter(awaitsDispatch).map((e) => e.spec.id));
  expect(anyEndedUncompleted(ctx)).toBe(all.some(endedUncompleted));
}

function checkInvariants(h: Harness, maxConcurrent: number, hpcCap: number): void {
  const ctx = h.ctx;
  const { total, byOperator } = activeCounts(ctx);
  expect(total).toBeLessThanOrEqual(maxConcurrent);
  expect(byOperator['hpc.default'] ?? 0).toBeLessThanOrEqual(hpcCap);
  const tasksWithActive = Object.values(ctx.active).map((a) => a.taskId);
  expect(new Set(tasksWithActive).size).toBe(tasksWithActive.length); // never two active attempts per task
  checkBucketTallies(ctx);
  for (const entry of tasksInOrder(ctx)) {
    if (entry.current !== null) expect(entry.status).toBe(taskStatusOfAttempt(entry.current.status));
    else expect(['PENDING', 'SKIPPED']).toContain(entry.status);
  }
  // No task dispatched before its dependencies were satisfied (checked on this delivery's creations).
  for (const p of h.last) {
    for (const m of p.decision.messages) {
      if (m.event.type !== 'ATTEMPT.CREATED' || m.event.initError !== undefined) continue;
      const ctxAfter = (p.decision.snapshot as { context: typeof ctx }).context;
      for (const dep of m.event.task.dependencies) {
        const status = getTask(ctxAfter, dep)?.status;
        if (m.event.task.allowDependencyFailure) expect(TERMINAL_TASK_STATUSES).toContain(status);
        else expect(status).toBe('COMPLETED');
      }
    }
  }
}

/** Lets operators finish everything and the campaign say "done": the run must end terminal. */
function drain(h: Harness): void {
  for (let round = 0; round < 500 && !TERMINAL_RUN_STATUSES.includes(h.ctx.status); round++) {
    if (h.ctx.status === 'PAUSED') h.run({ type: 'CMD.RESUME' });
    h.step();
    for (const id of busyAttempts(h)) operate(h, id, 'COMPLETED');
    if (h.ctx.awaitingPlan !== null && h.ctx.status !== 'PENDING') h.plan(null, h.ctx.awaitingPlan, {});
  }
}

describe('run machine properties (random DAGs × random interleavings)', () => {
  it('optimisation: bucket tallies (tasks awaiting dispatch, tasks ended uncompleted; several buckets, retries, reruns) match a full scan in every context, old ones included', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 129, max: 300 }),
        fc.oneof(fc.integer({ min: 1, max: 20 }), fc.constant(400)),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom('COMPLETED' as const, 'FAILED' as const)), { minLength: 50, maxLength: 300 }),
        (n, maxConcurrent, reports) => {
          const h = new Harness({ maxConcurrent, configuredOperators: ['local.default'] });
          const tasks = Array.from({ length: n }, (_, i) => ({ id: `t${i}`, command: 'x', allowFailure: true, retries: i % 3 === 0 ? 2 : 0 }));
          h.plan(tasks);
          const contexts = [h.ctx];
          for (const [pick, outcome] of reports) {
            h.step();
            // A few attempts at a time, so that many reach their end (and retries) within the actions.
            operateBusy(h, pick, outcome, 4);
            if (pick % 5 === 0) h.run({ type: 'CMD.RERUN', taskId: `t${pick % n}` });
            contexts.push(h.ctx);
            checkBucketTallies(h.ctx);
          }
          for (const ctx of contexts) checkBucketTallies(ctx);
        },
      ),
      { numRuns: Math.max(5, Math.round(RUNS / 5)) },
    );
  });

  it('caps, one active attempt per task, readiness, task status = its attempt, termination, deterministic replay', () => {
    fc.assert(
      fc.property(workflowArb, configArb, fc.array(actionArb, { maxLength: 60 }), (tasks, config, actions) => {
        const h = new Harness({
          maxConcurrent: config.maxConcurrent,
          operatorCaps: { 'hpc.default': config.hpcCap },
          configuredOperators: ['local.default', 'hpc.default'],
        });
        h.plan(tasks);
        const ids = tasks.map((t) => t.id);
        for (const action of actions) {
          playAction(h, action, ids, () => finishCampaign(h));
          checkInvariants(h, config.maxConcurrent, config.hpcCap);
        }
        drain(h);
        checkInvariants(h, config.maxConcurrent, config.hpcCap);
        expect(TERMINAL_RUN_STATUSES).toContain(h.ctx.status);

        // Determinism: the log replayed twice gives identical transitions, changes and snapshots,
        // identical to the live decisions (what `replay --verify` checks).
        const log = h.log();
        const steps1: ReplayStep[] = [];
        const steps2: ReplayStep[] = [];
        const s1 = replay(log, (s) => steps1.push(s));
        const s2 = replay(log, (s) => steps2.push(s));
        expect(JSON.stringify(steps1)).toBe(JSON.stringify(steps2));
        expect(JSON.stringify(s1.run?.context)).toBe(JSON.stringify(s2.run?.context));
        expect(JSON.stringify(s1.run?.context)).toBe(JSON.stringify(h.ctx));
        expect(steps1.map((s) => [s.to, s.changes])).toEqual(h.processed.map((p) => [p.decision.to, p.decision.changes]));
      }),
      { numRuns: RUNS },
    );
  });
});
