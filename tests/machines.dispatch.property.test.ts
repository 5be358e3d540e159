import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TaskSpecInput } from '../events/workflow.ts';
import { tasksInOrder, type RunContext } from '../machines/run-context.ts';
import { dispatchReady, planDispatch, type Dispatch } from '../machines/rules/dispatch.ts';
import { isReady } from '../machines/rules/readiness.ts';
import { EMPTY_SLOT_SET, editSlotSet, hasSlot, slotsOf, type SlotSet } from '../machines/slot-set.ts';
import { slotCounter } from '../machines/rules/slots.ts';
import { Harness, playAction, type Action } from './machines.harness.ts';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 50);
const OPERATORS = ['local.default', 'hpc.default', 'bad.op'] as const;

/**
 * The oracle: `planDispatch` as it was before dispatch candidates, scanning every task of the run
 * in workflow order. It shares the decision for one ready task (`dispatchReady`): what differs,
 * and what the property checks, is which tasks are looked at.
 */
function scanningPlanDispatch(ctx: RunContext): Dispatch[] {
  const slots = slotCounter(ctx);
  const out: Dispatch[] = [];
  for (const entry of tasksInOrder(ctx)) {
    if (entry.status !== 'PENDING' || entry.current !== null) continue;
    if (!slots.globalFree()) break;
    if (isReady(ctx, entry)) dispatchReady(ctx, entry, slots, out);
  }
  return out;
}

/**
 * Workflows of a campaign: workflow w's task i may depend on any earlier task of w or on any task
 * of an earlier workflow; each list is then permuted (order ≠ topology). Retries included.
 */
function campaignArb(maxTasks: number): fc.Arbitrary<TaskSpecInput[][]> {
  return fc.array(fc.integer({ min: 1, max: maxTasks }), { minLength: 1, maxLength: 3 }).chain((sizes) => {
    const idsOf = (w: number): string[] => Array.from({ length: sizes[w]! }, (_, i) => `w${w}t${i}`);
    const earlier = (w: number, i: number): string[] => [...sizes.slice(0, w).flatMap((_, v) => idsOf(v)), ...idsOf(w).slice(0, i)];
    const workflow = (w: number): fc.Arbitrary<TaskSpecInput[]> =>
      fc
        .tuple(
          fc.tuple(
            ...idsOf(w).map((_, i) =>
              fc.record({
                deps: fc.subarray(earlier(w, i), { maxLength: Math.min(3, earlier(w, i).length) }),
                allowFailure: fc.constantFrom(true, true, false),
                allowDependencyFailure: fc.boolean(),
                retries: fc.constantFrom(0, 0, 1, 2),
                op: fc.constantFrom(...OPERATORS, undefined, undefined),
              }),
            ),
          ),
          fc.shuffledSubarray(idsOf(w).map((_, i) => i), { minLength: sizes[w]!, maxLength: sizes[w]! }),
        )
        .map(([specs, order]) =>
          order.map((i) => {
            const s = specs[i]!;
            return {
              id: `w${w}t${i}`,
              command: 'x',
              dependencies: s.deps,
              allowFailure: s.allowFailure,
              allowDependencyFailure: s.allowDependencyFailure,
              retries: s.retries,
              ...(s.op !== undefined ? { operatorKey: s.op } : {}),
            };
          }),
        );
    return fc.tuple(...sizes.map((_, w) => workflow(w)));
  });
}

const configArb = fc.record({
  maxConcurrent: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constant(null)),
  hpcCap: fc.oneof(fc.integer({ min: 1, max: 2 }), fc.constant(null)),
});


const verbArb = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom('pause' as const, 'resume' as const, 'resume' as const, 'cancel' as const) },
  { weight: 4, arbitrary: fc.constantFrom('revive' as const, 'rerun' as const, 'rerun-r' as const, 'cancel-attempt' as const) },
);

/** Failures are rarer than successes, so that campaigns reach their later workflows. */
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'step' as const }) },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('operator' as const),
      pick: fc.nat(),
      outcome: fc.constantFrom('COMPLETED' as const, 'COMPLETED' as const, 'COMPLETED' as const, 'FAILED' as const, 'WAITING_EXTERNAL' as const),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('command' as const), verb: verbArb, pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'campaign' as const }) },
);

/** The campaign's answer: adopts the next workflow (or ends the campaign) when one is awaited. */
function planNext(h: Harness, workflows: TaskSpecInput[][], taskIds: string[]): void {
  const iteration = h.ctx.awaitingPlan;
  if (iteration === null || h.ctx.status === 'PENDING') return;
  const next = workflows[iteration];
  h.plan(next ?? null, iteration, { iteration });
  if (next !== undefined) taskIds.push(...next.map((t) => t.id));
}

/** Every run context the last delivery went through (a delivery may pass several run transitions). */
function runContextsOfLastDelivery(h: Harness): RunContext[] {
  return h.last.filter((p) => p.actor === 'run').map((p) => (p.decision.snapshot as { context: RunContext }).context);
}

/** Plays a campaign with random interleavings, checking `planDispatch` against the oracle on every run context. */
function playAgainstOracle(workflows: TaskSpecInput[][], config: { maxConcurrent: number | null; hpcCap: number | null }, actions: Action[]): void {
  const h = new Harness({
    maxConcurrent: config.maxConcurrent,
    operatorCaps: { 'hpc.default': config.hpcCap },
    configuredOperators: ['local.default', 'hpc.default'],
  });
  h.plan(workflows[0]!);
  const taskIds = workflows[0]!.map((t) => t.id);
  const seen: RunContext[] = [h.ctx];
  for (const action of actions) {
    playAction(h, action, taskIds, () => planNext(h, workflows, taskIds));
    for (const ctx of runContextsOfLastDelivery(h)) {
      expect(planDispatch(ctx)).toEqual(scanningPlanDispatch(ctx));
      seen.push(ctx);
    }
  }
  // Old contexts answer as they did: the host keeps a previous snapshot on a version conflict.
  for (const ctx of seen) expect(planDispatch(ctx)).toEqual(scanningPlanDispatch(ctx));
}

describe('optimisation: dispatch candidates (planDispatch ≡ a scan of every task)', () => {
  it('plans exactly what a full scan plans, after every delivery and in every old context (random campaigns × interleavings)', () => {
    fc.assert(
      fc.property(campaignArb(8), configArb, fc.array(actionArb, { minLength: 60, maxLength: 200 }), playAgainstOracle),
      { numRuns: RUNS },
    );
  });

  it('plans exactly what a full scan plans in campaigns spanning several buckets', () => {
    fc.assert(
      fc.property(campaignArb(300), configArb, fc.array(actionArb, { minLength: 100, maxLength: 300 }), playAgainstOracle),
      { numRuns: Math.max(5, Math.round(RUNS / 5)) },
    );
  });
});

describe('optimisation: slot sets (the dispatch candidates\' structure)', () => {
  it('match a sorted-array model across leaves and groups, batch by batch, and every old version stays as it was', () => {
    // Slots up to 3 groups (3 × 64 × 128), with clusters so leaves fill and empty again.
    const slotArb = fc.oneof(fc.integer({ min: 0, max: 3 * 64 * 128 }), fc.integer({ min: 8180, max: 8200 }), fc.integer({ min: 0, max: 140 }));
    const batchArb = fc.array(fc.tuple(fc.boolean(), slotArb), { minLength: 0, maxLength: 40 });
    fc.assert(
      fc.property(fc.array(batchArb, { minLength: 5, maxLength: 40 }), (batches) => {
        const versions: [SlotSet, number[]][] = [[EMPTY_SLOT_SET, []]];
        let model = new Set<number>();
        let set = EMPTY_SLOT_SET;
        for (const batch of batches) {
          model = new Set(model);
          const before = set;
          set = editSlotSet(set, (add, remove) => {
            for (const [adding, slot] of batch) {
              if (adding) add(slot);
              else remove(slot);
              if (adding) model.add(slot);
              else model.delete(slot);
            }
          });
          const expected = [...model].sort((a, b) => a - b);
          if (batch.length === 0) expect(set).toBe(before);
          expect([...slotsOf(set)]).toEqual(expected);
          expect(set.size).toBe(expected.length);
          for (const [, slot] of batch) expect(hasSlot(set, slot)).toBe(model.has(slot));
          versions.push([set, expected]);
        }
        for (const [version, expected] of versions) expect([...slotsOf(version)]).toEqual(expected);
      }),
      { numRuns: RUNS },
    );
  });
});
