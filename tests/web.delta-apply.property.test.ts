import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { coalesceMs } from '../web/live-feed.ts';
import { deltaOnWire, toColumns } from '../web/row-columns.ts';
import { applyRunDelta, upsertRows, type RunDelta, type RunState } from '../web/client/live-delta.ts';
import { deltaFromWire, fromColumns } from '../web/client/row-columns.ts';
import type { DagTask } from '../web/live-deltas.ts';

// A page that loaded a run and applies the live deltas as they come over the wire (rows as
// columns) shows what a fresh load at the last delta's seq shows.

const STATUSES = ['PENDING', 'READY', 'RUNNING', 'COMPLETED', 'FAILED'] as const;

function task(id: string, status: string, attempts: number): DagTask {
  return { id, status: status as DagTask['status'], statusReason: null, operatorKey: attempts > 0 ? 'local' : null, attempts, currentAttemptId: attempts > 0 ? `${id}-a${attempts}` : null, iteration: 0, kind: 'compute', dependencies: id === 'plan' ? [] : ['plan'], message: null };
}

/** One record: plans tasks, or moves one (by index among those planned) to a status. */
type Step = { plan: number } | { move: number; status: string };

const step: fc.Arbitrary<Step> = fc.oneof(fc.record({ plan: fc.integer({ min: 1, max: 4 }) }), fc.record({ move: fc.nat(), status: fc.constantFrom(...STATUSES) }));

/** The run after each record (seq i + 1): its tasks in the order planned, as a full load gives them. */
function history(steps: readonly Step[]): DagTask[][] {
  const tasks: DagTask[] = [task('plan', 'COMPLETED', 1)];
  const states: DagTask[][] = [];
  for (const s of steps) {
    if ('plan' in s) for (let i = 0; i < s.plan; i++) tasks.push(task(`t${tasks.length}`, 'PENDING', 0));
    else {
      const at = s.move % tasks.length;
      const old = tasks[at] as DagTask;
      tasks[at] = task(old.id, s.status, old.attempts + (s.status === 'RUNNING' ? 1 : 0));
    }
    states.push([...tasks]);
  }
  return states;
}

function counts(tasks: readonly DagTask[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of tasks) out[t.status] = (out[t.status] ?? 0) + 1;
  return out;
}

type Loaded = RunState<DagTask> & { status: string };

function load(states: readonly DagTask[][], seq: number): Loaded {
  const tasks = states[seq - 1] as DagTask[];
  return { lastSeq: seq, status: 'RUNNING', tasks, counts: counts(tasks) };
}

describe('live deltas over the wire', () => {
  it('rows as columns read back as the rows, through JSON', () => {
    const row = fc.record({ id: fc.string(), status: fc.constantFrom(...STATUSES), attempts: fc.nat(), reason: fc.option(fc.string()), dependencies: fc.array(fc.string()) });
    fc.assert(fc.property(fc.array(row), (rows) => {
      expect(fromColumns(JSON.parse(JSON.stringify(toColumns(rows))))).toEqual(rows);
    }));
  });

  it('a page that loads at any seq and applies the later deltas shows what a load at the last seq shows', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1 }), fc.nat(), (steps, sizes, loadAt) => {
        const states = history(steps);
        const seqs = states.length;
        let page = load(states, 1 + (loadAt % seqs));
        // Deltas cover consecutive spans of records; each carries the current rows of the tasks its records touched.
        let from = 0;
        for (let i = 0; from < seqs; i++) {
          const to = Math.min(seqs, from + (sizes[i % sizes.length] as number));
          const before = from === 0 ? [] : (states[from - 1] as DagTask[]);
          const after = states[to - 1] as DagTask[];
          const touched = after.filter((t, at) => JSON.stringify(t) !== JSON.stringify(before[at]));
          const delta = { runId: 'r', fromSeq: from, toSeq: to, toTime: `t${to}`, run: { runId: 'r', status: 'RUNNING', counts: counts(after) }, tasks: touched, attempts: [] };
          const heard = deltaFromWire(JSON.parse(JSON.stringify(deltaOnWire(delta as unknown as Parameters<typeof deltaOnWire>[0])))) as RunDelta<DagTask>;
          if (heard.fromSeq <= page.lastSeq && heard.toSeq > page.lastSeq) page = applyRunDelta(page, heard);
          from = to;
        }
        const fresh = load(states, seqs);
        expect({ lastSeq: page.lastSeq, tasks: page.tasks, counts: page.counts }).toEqual({ lastSeq: fresh.lastSeq, tasks: fresh.tasks, counts: fresh.counts });
      }),
    );
  });

  it('upserting costs the changes (an index handed on), yet gives what a fresh index gives, whichever earlier array it is applied to', () => {
    const row = fc.record({ k: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), v: fc.nat() });
    fc.assert(
      fc.property(fc.array(fc.record({ base: fc.nat(), changed: fc.array(row, { maxLength: 4 }) }), { maxLength: 12 }), (steps) => {
        const versions: { k: string; v: number }[][] = [[]];
        for (const { base, changed } of steps) {
          const from = versions[base % versions.length] as { k: string; v: number }[];
          const expected = [...from];
          for (const r of changed) {
            const at = expected.findIndex((e) => e.k === r.k);
            if (at === -1) expected.push(r);
            else expected[at] = r;
          }
          const next = upsertRows(from, changed, (r) => r.k);
          expect(next).toEqual(expected);
          versions.push(next);
        }
      }),
    );
  });

  it('the structure token changes when a task is added or its dependencies change, not when only its status does', () => {
    const start = { lastSeq: 1, tasks: [task('plan', 'COMPLETED', 1), task('t1', 'PENDING', 0)], counts: {}, structure: {} };
    const delta = (tasks: DagTask[]): RunDelta<DagTask> => ({ runId: 'r', fromSeq: 1, toSeq: 2, toTime: 't', run: { counts: {} }, tasks, attempts: [] });
    expect(applyRunDelta(start, delta([task('t1', 'RUNNING', 1)])).structure).toBe(start.structure);
    expect(applyRunDelta(start, delta([task('t2', 'PENDING', 0)])).structure).not.toBe(start.structure);
    expect(applyRunDelta(start, delta([{ ...task('t1', 'PENDING', 0), dependencies: [] }])).structure).not.toBe(start.structure);
  });

  it('messages are gathered longer the more pages listen: 250 ms up to ten pages, 250 ms more per ten more', () => {
    expect([0, 1, 10, 11, 20, 50].map(coalesceMs)).toEqual([250, 250, 250, 500, 500, 1250]);
  });
});
