// Attempt reports gathered into one ATTEMPTS.REPORTED: the run must reach exactly what one
// ATTEMPT.REPORTED per report reaches (old logs hold those), and a Delivery gathers the reports that
// arrive together, delivering them before the run's next event.
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import type { DomainChange } from '../events/changes.ts';
import { parseRunEvent, type AttemptReport } from '../events/run-events.ts';
import { applyEvent, Delivery, type Processed, type RunSystem } from '../machines/system.ts';
import { Harness } from './machines.harness.ts';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 60);
const TASKS = ['a', 'b', 'c', 'd'];

/** A run with TASKS planned (b retried once on failure) and dispatched. */
function started(): Harness {
  const h = new Harness({ maxConcurrent: null });
  h.plan(TASKS.map((id) => ({ id, command: `run ${id}`, ...(id === 'b' ? { retries: 1 } : {}) })));
  h.step();
  return h;
}

/** Task statuses as the projections fold them: the initial ones, then every task.status change in order. */
function projected(h: Harness, changes: DomainChange[]): Record<string, string> {
  const out = h.allStatuses();
  for (const change of changes) if (change.kind === 'task.status') out[change.taskId] = change.status;
  return out;
}

const reportArb = fc.record({
  task: fc.constantFrom(...TASKS),
  // a2 is never current here: a stale report, which must change nothing.
  attempt: fc.constantFrom('a1', 'a1', 'a1', 'a2'),
  status: fc.constantFrom('SUBMITTED', 'RUNNING', 'WAITING_EXTERNAL', 'COMPLETED', 'FAILED', 'CANCELLED'),
  reason: fc.option(fc.constantFrom('exit 1', 'lost'), { nil: undefined }),
});

describe('ATTEMPTS.REPORTED', () => {
  test.prop([fc.array(reportArb, { minLength: 2, maxLength: 12 })], { numRuns: RUNS })(
    'leaves the run where one ATTEMPT.REPORTED per report leaves it: same state, same context, same folded task statuses',
    (drawn) => {
      const h = started();
      const reports: AttemptReport[] = drawn.map((r) => ({
        attemptId: `${r.task}-${r.attempt}`,
        taskId: r.task,
        status: r.status as AttemptReport['status'],
        ...(r.reason !== undefined ? { reason: r.reason } : {}),
      }));
      let oneByOne: RunSystem = h.system;
      const separateChanges: DomainChange[] = [];
      for (const report of reports) {
        const step = applyEvent(oneByOne, 'run', parseRunEvent({ type: 'ATTEMPT.REPORTED', ...report }));
        oneByOne = step.system;
        separateChanges.push(...step.processed.decision.changes);
      }
      const together = applyEvent(h.system, 'run', parseRunEvent({ type: 'ATTEMPTS.REPORTED', reports }));
      expect(together.system.run?.value).toEqual(oneByOne.run?.value);
      expect(together.system.run?.context).toEqual(oneByOne.run?.context);
      expect(projected(h, together.processed.decision.changes)).toEqual(projected(h, separateChanges));
      // Nothing new (every report stale or repeated) is a noop, as each report alone would be.
      expect(together.processed.decision.noop).toBe(separateChanges.length === 0 && oneByOne.run === h.system.run);
    },
  );

  it('is refused with fewer than two reports (one report is an ATTEMPT.REPORTED)', () => {
    expect(() => parseRunEvent({ type: 'ATTEMPTS.REPORTED', reports: [{ attemptId: 'a-a1', taskId: 'a', status: 'RUNNING' }] })).toThrow();
  });
});

describe('Delivery', () => {
  const submitted = { type: 'ATTEMPT.SUBMITTED', externalId: 'x', status: 'RUNNING' } as const;
  const deliverAll = (h: Harness, items: [string, Parameters<Harness['run']>[0] | typeof submitted][]) => {
    const seen: { type: string; actor: string; tag: string; event: Processed['event'] }[] = [];
    const delivery = new Delivery<string>(h.system, (p, tag) => seen.push({ type: p.event.type, actor: p.actor, tag, event: p.event }));
    for (const [actor, event] of items) delivery.add(actor, actor === 'run' ? parseRunEvent(event) : (event as typeof submitted), `${actor}:${event.type}`);
    delivery.finish();
    return seen;
  };

  it('gathers the reports that arrive together into one ATTEMPTS.REPORTED after their attempts, tagged by the first', () => {
    const seen = deliverAll(started(), [['a-a1', submitted], ['b-a1', submitted], ['c-a1', submitted]]);
    expect(seen.map((s) => `${s.actor} ${s.type}`)).toEqual(['a-a1 ATTEMPT.SUBMITTED', 'b-a1 ATTEMPT.SUBMITTED', 'c-a1 ATTEMPT.SUBMITTED', 'run ATTEMPTS.REPORTED']);
    expect(seen[3]?.tag).toBe('a-a1:ATTEMPT.SUBMITTED');
    expect(seen[3]?.event).toEqual({
      type: 'ATTEMPTS.REPORTED',
      reports: ['a', 'b', 'c'].map((id) => ({ attemptId: `${id}-a1`, taskId: id, status: 'RUNNING' })),
    });
  });

  it('delivers held reports before the run’s next event; a lone report stays ATTEMPT.REPORTED', () => {
    const seen = deliverAll(started(), [['a-a1', submitted], ['run', { type: 'CMD.PAUSE' }], ['b-a1', submitted]]);
    expect(seen.map((s) => `${s.actor} ${s.type}`)).toEqual([
      'a-a1 ATTEMPT.SUBMITTED',
      'run ATTEMPT.REPORTED',
      'run CMD.PAUSE',
      'b-a1 ATTEMPT.SUBMITTED',
      'run ATTEMPT.REPORTED',
    ]);
  });
});
