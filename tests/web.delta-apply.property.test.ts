import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deltaMessage } from '../web/delta-message.ts';
import { coalesceMs } from '../web/live-feed.ts';
import { toColumns } from '../web/row-columns.ts';
import { sseFrame } from '../web/sse-frames.ts';
import { applyAttemptsDelta, applyRunDelta, deltaStep, rowIndex, upsertRows, type AttemptsState, type RunDelta, type RunState } from '../web/client/live-delta.ts';
import { deltaFromWire, fromColumns, type WireDelta } from '../web/client/row-columns.ts';
import type { DagTask, RunDelta as ServerDelta } from '../web/live-deltas.ts';

// A page that loaded a run and applies the live deltas as they come over the wire (rows as
// columns, attempt rows only when it asked for them) shows what a fresh load at the last delta's seq shows.

const STATUSES = ['PENDING', 'READY', 'RUNNING', 'COMPLETED', 'FAILED'] as const;

function task(id: string, status: string, attempts: number): DagTask {
  return { id, status: status as DagTask['status'], statusReason: null, operatorKey: attempts > 0 ? 'local' : null, attempts, currentAttemptId: attempts > 0 ? `${id}-a${attempts}` : null, iteration: 0, kind: 'compute', dependencies: id === 'plan' ? [] : ['plan'], message: null };
}

/** One record: plans tasks, or moves one (by index among those planned) to a status (to RUNNING: a new attempt). */
type Step = { plan: number } | { move: number; status: string };

const step: fc.Arbitrary<Step> = fc.oneof(fc.record({ plan: fc.integer({ min: 1, max: 4 }) }), fc.record({ move: fc.nat(), status: fc.constantFrom(...STATUSES) }));

/** An attempt as the timeline keeps it. */
interface Attempt {
  attemptId: string;
  taskId: string;
  status: string;
}

/** The run after each record (seq i + 1): its tasks in the order planned and its attempts in the order made, as full loads give them. */
function history(steps: readonly Step[]): { tasks: DagTask[]; attempts: Attempt[] }[] {
  const tasks: DagTask[] = [task('plan', 'COMPLETED', 1)];
  const attempts: Attempt[] = [{ attemptId: 'plan-a1', taskId: 'plan', status: 'COMPLETED' }];
  const states: { tasks: DagTask[]; attempts: Attempt[] }[] = [];
  for (const s of steps) {
    if ('plan' in s) for (let i = 0; i < s.plan; i++) tasks.push(task(`t${tasks.length}`, 'PENDING', 0));
    else {
      const at = s.move % tasks.length;
      const old = tasks[at] as DagTask;
      const moved = task(old.id, s.status, old.attempts + (s.status === 'RUNNING' ? 1 : 0));
      tasks[at] = moved;
      const current = attempts.findIndex((a) => a.attemptId === moved.currentAttemptId);
      if (current === -1 && moved.currentAttemptId !== null) attempts.push({ attemptId: moved.currentAttemptId, taskId: moved.id, status: s.status });
      else if (current !== -1) attempts[current] = { ...(attempts[current] as Attempt), status: s.status };
    }
    states.push({ tasks: [...tasks], attempts: [...attempts] });
  }
  return states;
}

function counts(tasks: readonly DagTask[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of tasks) out[t.status] = (out[t.status] ?? 0) + 1;
  return out;
}

type Loaded = RunState<DagTask> & { status: string };

function load(states: ReturnType<typeof history>, seq: number): Loaded {
  const { tasks } = states[seq - 1] as { tasks: DagTask[] };
  return { lastSeq: seq, status: 'RUNNING', tasks, counts: counts(tasks) };
}

function loadAttempts(states: ReturnType<typeof history>, seq: number): AttemptsState<Attempt> {
  return { lastSeq: seq, attempts: (states[seq - 1] as { attempts: Attempt[] }).attempts };
}

/** The rows, as of record `to`, that some record in (from, to] changed (as the server notes touches: by record, not by comparing the ends). */
function touched<T>(states: readonly T[][], from: number, to: number, key: (row: T) => string): T[] {
  const keys = new Set<string>();
  for (let seq = from + 1; seq <= to; seq++) {
    const old = new Map((seq === 1 ? [] : (states[seq - 2] as T[])).map((row) => [key(row), JSON.stringify(row)]));
    for (const row of states[seq - 1] as T[]) if (old.get(key(row)) !== JSON.stringify(row)) keys.add(key(row));
  }
  return (states[to - 1] as T[]).filter((row) => keys.has(key(row)));
}

/** What a page's stream brings of `message`: the server's bytes for its ask, read back as a page reads them. */
function heardBy(message: ReturnType<typeof deltaMessage>, asks: ReadonlySet<string>): RunDelta<DagTask, Attempt>[] {
  const text = new TextDecoder().decode(sseFrame(message, asks));
  expect(text.startsWith('event: delta\ndata: ') && text.endsWith('\n\n') && text.split('\n').length === 4, 'one event, one data line').toBe(true);
  const body = JSON.parse(text.slice('event: delta\ndata: '.length)) as { deltas: WireDelta[] };
  return body.deltas.map((d) => deltaFromWire(d) as RunDelta<DagTask, Attempt>);
}

describe('live deltas over the wire', () => {
  it('rows as columns read back as the rows, through JSON', () => {
    const row = fc.record({ id: fc.string(), status: fc.constantFrom(...STATUSES), attempts: fc.nat(), reason: fc.option(fc.string()), dependencies: fc.array(fc.string()) });
    fc.assert(fc.property(fc.array(row), (rows) => {
      expect(fromColumns(JSON.parse(JSON.stringify(toColumns(rows))))).toEqual(rows);
    }));
  });

  it('a page that loads at any seq and applies the later deltas its stream brings shows what a load at the last seq shows: its DAG always, its timeline from when it asks for attempts', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1 }), fc.nat(), fc.option(fc.nat()), (steps, sizes, loadAt, askFrom) => {
        const states = history(steps);
        const seqs = states.length;
        // A DAG-only page (asks for no attempts) and a page that shows the timeline, whose stream asks
        // for the run's attempts from its `askFrom`th message on (never, when null: then it keeps reloading).
        let dag = load(states, 1 + (loadAt % seqs));
        let timeline = { run: load(states, 1 + (loadAt % seqs)), attempts: loadAttempts(states, 1 + (loadAt % seqs)) };
        const bytes = { dag: 0, timeline: 0 };
        // Deltas cover consecutive spans of records; each carries the current rows its records touched.
        let from = 0;
        for (let i = 0; from < seqs; i++) {
          const to = Math.min(seqs, from + (sizes[i % sizes.length] as number));
          const after = states[to - 1] as { tasks: DagTask[]; attempts: Attempt[] };
          const delta = {
            runId: 'r', fromSeq: from, toSeq: to, toTime: `t${to}`, run: { runId: 'r', status: 'RUNNING', counts: counts(after.tasks) },
            tasks: touched(states.map((st) => st.tasks), from, to, (t) => t.id),
            attempts: touched(states.map((st) => st.attempts), from, to, (a) => a.attemptId),
          };
          const message = deltaMessage([delta as unknown as ServerDelta]);
          const asks = new Set(askFrom !== null && i >= askFrom ? ['r'] : []);
          bytes.dag += sseFrame(message, new Set()).length;
          bytes.timeline += sseFrame(message, asks).length;
          const [forDag] = heardBy(message, new Set());
          const [forTimeline] = heardBy(message, asks);
          if (forDag === undefined || forTimeline === undefined) throw new Error('a delta per run');
          expect(forDag.attempts, 'no attempt rows to a page that did not ask').toBeUndefined();
          const runStep = (state: Loaded, d: RunDelta<DagTask, Attempt>): Loaded => {
            const next = deltaStep(state.lastSeq, d);
            return next === 'apply' ? applyRunDelta(state, d) : next === 'reload' ? load(states, d.toSeq) : state;
          };
          dag = runStep(dag, forDag);
          const attemptsStep = deltaStep(timeline.attempts.lastSeq, forTimeline, forTimeline.attempts !== undefined);
          timeline = {
            run: runStep(timeline.run, forTimeline),
            attempts: attemptsStep === 'apply' ? applyAttemptsDelta(timeline.attempts, forTimeline) : attemptsStep === 'reload' ? loadAttempts(states, forTimeline.toSeq) : timeline.attempts,
          };
          from = to;
        }
        const fresh = load(states, seqs);
        const shown = (page: Loaded) => ({ lastSeq: page.lastSeq, tasks: page.tasks, counts: page.counts });
        expect(shown(dag)).toEqual(shown(fresh));
        expect(shown(timeline.run)).toEqual(shown(fresh));
        expect(timeline.attempts).toEqual(loadAttempts(states, seqs));
        expect(bytes.dag).toBeLessThanOrEqual(bytes.timeline);
      }),
    );
  });

  it('a page looks a task\'s status up by the index upserts hand on, and finds what the rows say', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), (steps) => {
        let run = load(history(steps.slice(0, 1)), 1);
        for (const state of history(steps).slice(1)) {
          run = applyRunDelta(run, { runId: 'r', fromSeq: run.lastSeq, toSeq: run.lastSeq + 1, toTime: 't', run: { counts: counts(state.tasks) }, tasks: state.tasks });
          const index = rowIndex(run.tasks, (t) => t.id);
          for (const t of state.tasks) expect(run.tasks[index.get(t.id) as number]?.status).toBe(t.status);
        }
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
