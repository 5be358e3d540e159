import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAttemptEvent, type AttemptEvent, type AttemptEventInput } from '../events/run-events.ts';
import { decideAttempt, type AttemptSnapshot } from '../machines/decide.ts';
import { attemptPhase, isCollecting, isWatchable, reportStartsCollecting } from '../machines/attempt-phase.ts';
import { attemptMachine } from '../machines/attempt.machine.ts';
import { given, toAttempt } from './harness/given-when-then.ts';

const CREATED = { type: 'ATTEMPT.CREATED', attemptId: 't-a1', taskId: 't', operatorKey: 'local.default', task: { id: 't', command: 'x' } } as const;
const created = (extra: Record<string, unknown> = {}) => parseAttemptEvent({ ...CREATED, ...extra });
/** A record of attempt t-a1's log. */
const logged = (event: AttemptEventInput) => toAttempt('t-a1', event);

function drive(...events: AttemptEventInput[]) {
  let decision = decideAttempt(undefined, created());
  const all = [decision];
  for (const event of events) {
    decision = decideAttempt(decision.snapshot, parseAttemptEvent(event));
    all.push(decision);
  }
  return { snapshot: decision.snapshot as AttemptSnapshot, last: decision, all };
}

const reports = (all: ReturnType<typeof drive>['all']) => all.flatMap((d) => d.messages.map((m) => (m.event.type === 'ATTEMPT.REPORTED' ? m.event.status : m.event.type)));

describe('attempt machine', () => {
  it('creation asks for prepare+submit and records attempt.created + CREATED', () => {
    const d = decideAttempt(undefined, created());
    expect(d.to).toBe('created');
    expect(d.effects).toEqual([{ type: 'attempt.start', attemptId: 't-a1', taskId: 't', operatorKey: 'local.default', task: (created() as Extract<AttemptEvent, { type: 'ATTEMPT.CREATED' }>).task }]);
    expect(d.changes).toEqual([
      { kind: 'attempt.created', attemptId: 't-a1', taskId: 't', operatorKey: 'local.default' },
      { kind: 'attempt.status', attemptId: 't-a1', status: 'CREATED' },
    ]);
  });

  it('given a created attempt, when the operator accepts it, then it records the external id, asks to watch and reports to the run', () => {
    const last = given(logged(CREATED))
      .when(logged({ type: 'ATTEMPT.SUBMITTED', externalId: '42', dir: '/a', status: 'RUNNING' }))
      .then([{ kind: 'attempt.status', attemptId: 't-a1', status: 'RUNNING', externalId: '42', dir: '/a' }]);
    expect(last.to).toBe('running');
    expect(last.effects).toEqual([{ type: 'attempt.watch', attemptId: 't-a1', operatorKey: 'local.default', externalId: '42' }]);
    expect(last.messages).toEqual([{ to: 'run', event: { type: 'ATTEMPT.REPORTED', attemptId: 't-a1', taskId: 't', status: 'RUNNING' } }]);
  });

  it('given a created attempt, when its submission fails before the operator accepted it, then it is FAILED_INIT with the error as reason', () => {
    const last = given(logged(CREATED))
      .when(logged({ type: 'ATTEMPT.SUBMIT_FAILED', reason: 'mkdir denied' }))
      .then([{ kind: 'attempt.status', attemptId: 't-a1', status: 'FAILED_INIT', reason: 'mkdir denied' }]);
    expect(last.to).toBe('failed_init');
  });

  it('an attempt born with initError goes straight to failed_init and never asks to start', () => {
    const d = decideAttempt(undefined, created({ initError: 'no operator' }));
    expect(d.to).toBe('failed_init');
    expect(d.effects).toEqual([]);
    expect(d.messages[0]?.event).toMatchObject({ status: 'FAILED_INIT', reason: 'no operator' });
  });

  it('COMPLETED collects results first and reports to the run only once they are in', () => {
    const { all, snapshot } = drive(
      { type: 'ATTEMPT.SUBMITTED', externalId: '1' },
      { type: 'OPERATOR.REPORTED', status: 'COMPLETED' },
      { type: 'ATTEMPT.RESULTS', files: { 'out.txt': '/a/out.txt' }, data: { e: 1 } },
    );
    expect(all[2]?.effects).toEqual([{ type: 'attempt.collect', attemptId: 't-a1', operatorKey: 'local.default' }]);
    expect(all[2]?.messages).toEqual([]);
    expect(reports(all)).toEqual(['SUBMITTED', 'COMPLETED']);
    expect(all[3]?.changes).toEqual([{ kind: 'attempt.results', attemptId: 't-a1', files: { 'out.txt': '/a/out.txt' }, data: { e: 1 } }]);
    expect(snapshot.context.data).toEqual({ e: 1 });
  });

  it('FAILED collects results too (logs matter on failure) and keeps the reason', () => {
    const { all, snapshot } = drive(
      { type: 'ATTEMPT.SUBMITTED', externalId: '1', status: 'RUNNING' },
      { type: 'OPERATOR.REPORTED', status: 'FAILED', reason: 'exit code 2' },
      { type: 'ATTEMPT.COLLECT_FAILED', reason: 'dir gone' },
    );
    expect(all[2]?.effects.map((e) => e.type)).toEqual(['attempt.collect']);
    expect(snapshot.context).toMatchObject({ status: 'FAILED', reason: 'exit code 2', collectError: 'dir gone' });
    expect(all[3]?.messages[0]?.event).toMatchObject({ status: 'FAILED', reason: 'exit code 2' });
  });

  it('results that cannot be taken fail a completed attempt with their reason; a failed one keeps its own', () => {
    const completed = drive(
      { type: 'ATTEMPT.SUBMITTED', externalId: '1', status: 'RUNNING' },
      { type: 'OPERATOR.REPORTED', status: 'COMPLETED' },
      { type: 'ATTEMPT.RESULTS_INVALID', files: { 'out.txt': '/a/out.txt' }, reason: 'results.json must hold a JSON object, not an array' },
    );
    expect(completed.snapshot.value).toEqual({ failed: 'collected' });
    expect(completed.snapshot.context).toMatchObject({ status: 'FAILED', reason: 'results.json must hold a JSON object, not an array', files: { 'out.txt': '/a/out.txt' } });
    expect(completed.all[3]?.changes).toEqual([
      { kind: 'attempt.status', attemptId: 't-a1', status: 'FAILED', reason: 'results.json must hold a JSON object, not an array', externalId: '1' },
      { kind: 'attempt.results', attemptId: 't-a1', files: { 'out.txt': '/a/out.txt' } },
    ]);
    expect(reports(completed.all)).toEqual(['RUNNING', 'FAILED']);
    const failed = drive(
      { type: 'ATTEMPT.SUBMITTED', externalId: '1', status: 'RUNNING' },
      { type: 'OPERATOR.REPORTED', status: 'FAILED', reason: 'exit code 2' },
      { type: 'ATTEMPT.RESULTS_INVALID', files: {}, reason: 'results.json is not valid JSON' },
    );
    expect(failed.snapshot.context).toMatchObject({ status: 'FAILED', reason: 'exit code 2', collectError: 'results.json is not valid JSON' });
  });

  it('given a running attempt, when the report that ends it carries its results, then it ends collected in one transition with no collect effect', () => {
    const last = given(logged(CREATED), logged({ type: 'ATTEMPT.SUBMITTED', externalId: '1', status: 'RUNNING' }))
      .when(logged({ type: 'OPERATOR.REPORTED', status: 'COMPLETED', results: { type: 'ATTEMPT.RESULTS', files: { 'out.txt': '/a/out.txt' }, data: { e: 1 } } }))
      .then([
        { kind: 'attempt.status', attemptId: 't-a1', status: 'COMPLETED', externalId: '1' },
        { kind: 'attempt.results', attemptId: 't-a1', files: { 'out.txt': '/a/out.txt' }, data: { e: 1 } },
      ]);
    expect(last.to).toEqual({ completed: 'collected' });
    expect(last.effects).toEqual([]);
    expect(last.messages).toEqual([{ to: 'run', event: { type: 'ATTEMPT.REPORTED', attemptId: 't-a1', taskId: 't', status: 'COMPLETED' } }]);
  });

  it('a report carrying its results ends the attempt exactly as the report and then the results as two records do (every outcome, from every active state)', () => {
    const files = fc.dictionary(fc.constantFrom('out.txt', 'results.json', 'log'), fc.constantFrom('/a/out.txt', '/a/results.json', '/a/log'));
    const outcome = fc.oneof(
      fc.record({ type: fc.constant('ATTEMPT.RESULTS' as const), files, data: fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }) }, { requiredKeys: ['type', 'files'] }),
      fc.record({ type: fc.constant('ATTEMPT.RESULTS_INVALID' as const), files, reason: fc.constantFrom('results.json is not valid JSON', 'too big') }),
      fc.record({ type: fc.constant('ATTEMPT.COLLECT_FAILED' as const), reason: fc.constantFrom('dir gone', 'EACCES') }),
    );
    const before = fc.constantFrom<AttemptEventInput[]>(
      [{ type: 'ATTEMPT.SUBMITTED', externalId: '1' }],
      [{ type: 'ATTEMPT.SUBMITTED', externalId: '1', status: 'RUNNING' }],
      [{ type: 'ATTEMPT.SUBMITTED', externalId: '1', status: 'WAITING_EXTERNAL' }],
      [{ type: 'ATTEMPT.SUBMITTED', externalId: '1', status: 'RUNNING' }, { type: 'ATTEMPT.CANCEL' }],
    );
    fc.assert(
      fc.property(before, fc.constantFrom('COMPLETED' as const, 'FAILED' as const), fc.option(fc.constantFrom('exit 2', 'signal'), { nil: undefined }), outcome, (prefix, status, reason, results) => {
        const report = { type: 'OPERATOR.REPORTED' as const, status, ...(reason !== undefined ? { reason } : {}) };
        const one = drive(...prefix, { ...report, results });
        const two = drive(...prefix, report, results);
        expect(one.snapshot.value).toEqual(two.snapshot.value);
        expect(one.snapshot.context).toEqual(two.snapshot.context);
        expect(reports(one.all)).toEqual(reports(two.all));
        expect(one.last.messages).toEqual(two.last.messages);
        expect(one.last.effects).toEqual([]);
        const facts = (d: ReturnType<typeof drive>, from: number) => d.all.slice(from).flatMap((x) => x.changes);
        const lastOf = <T extends { kind: string }>(changes: T[], kind: string) => changes.filter((c) => c.kind === kind).at(-1);
        expect(lastOf(facts(one, prefix.length + 1), 'attempt.status')).toEqual(lastOf(facts(two, prefix.length + 1), 'attempt.status'));
        expect(lastOf(facts(one, prefix.length + 1), 'attempt.results')).toEqual(lastOf(facts(two, prefix.length + 1), 'attempt.results'));
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 200) },
    );
  });

  it('given a running attempt, when the operator reports RUNNING again, then nothing changes (no record, no report)', () => {
    given(logged(CREATED), logged({ type: 'ATTEMPT.SUBMITTED', externalId: '1', status: 'RUNNING' }))
      .when(logged({ type: 'OPERATOR.REPORTED', status: 'RUNNING' }))
      .thenNothing();
  });

  it('cancel asks the operator and waits in cancelling; ATTEMPT.CANCELLED ends it CANCELLED', () => {
    const { all, snapshot } = drive({ type: 'ATTEMPT.SUBMITTED', externalId: '1' }, { type: 'ATTEMPT.CANCEL' }, { type: 'ATTEMPT.CANCELLED' });
    expect(all[2]?.to).toBe('cancelling');
    expect(all[2]?.effects.map((e) => e.type)).toEqual(['attempt.cancel']);
    expect(snapshot.value).toBe('cancelled');
    expect(reports(all)).toEqual(['SUBMITTED', 'CANCELLED']);
  });

  it('a job that completes while being cancelled is COMPLETED (the operator had the last word)', () => {
    const { snapshot } = drive({ type: 'ATTEMPT.SUBMITTED', externalId: '1' }, { type: 'ATTEMPT.CANCEL' }, { type: 'OPERATOR.REPORTED', status: 'COMPLETED' });
    expect(snapshot.value).toEqual({ completed: 'collecting' });
  });

  it('approve/reject only act on gate attempts', () => {
    const { last } = drive({ type: 'ATTEMPT.SUBMITTED', externalId: '1', status: 'WAITING_EXTERNAL' }, { type: 'ATTEMPT.APPROVE' });
    expect(last.noop).toBe(true);
  });

  it('events in a terminal state change nothing', () => {
    const { last } = drive({ type: 'ATTEMPT.SUBMIT_FAILED', reason: 'x' }, { type: 'OPERATOR.REPORTED', status: 'COMPLETED' });
    expect(last.noop).toBe(true);
  });

  it('an event before ATTEMPT.CREATED is refused as INVALID_EVENT', () => {
    expect(() => decideAttempt(undefined, parseAttemptEvent({ type: 'ATTEMPT.CANCEL' }))).toThrow(/before ATTEMPT.CREATED/);
  });
});

describe('attempt phase helpers', () => {
  it('agree with XState matches() in every state of the attempt machine', () => {
    const base = drive().snapshot;
    const leaves: unknown[] = [];
    const walk = (node: { key: string; states: Record<string, unknown> }, path: string[]): void => {
      const children = Object.values(node.states) as { key: string; states: Record<string, unknown> }[];
      if (children.length === 0) leaves.push(path.slice(0, -1).reduceRight<unknown>((inner, key) => ({ [key]: inner }), path[path.length - 1]));
      for (const child of children) walk(child, [...path, child.key]);
    };
    walk(attemptMachine.root as never, []);
    expect(leaves.length).toBeGreaterThan(8);
    for (const value of leaves) {
      const snapshot = attemptMachine.resolveState({ value: value as never, context: base.context });
      const top = typeof value === 'string' ? value : Object.keys(value as object)[0]!;
      expect(snapshot.matches(top as never)).toBe(true);
      expect(attemptPhase(snapshot)).toBe(top);
      expect(isWatchable(snapshot)).toBe(snapshot.matches('submitted') || snapshot.matches('running') || snapshot.matches('waiting_external'));
      expect(isCollecting(snapshot)).toBe(snapshot.matches({ completed: 'collecting' }) || snapshot.matches({ failed: 'collecting' }));
    }
  });

  it('reportStartsCollecting says which operator reports move a watched attempt to collecting, as the machine decides', () => {
    const statuses = ['SUBMITTED', 'RUNNING', 'WAITING_EXTERNAL', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;
    for (const watched of [[], [{ type: 'OPERATOR.REPORTED', status: 'RUNNING' }], [{ type: 'OPERATOR.REPORTED', status: 'WAITING_EXTERNAL' }]] as AttemptEventInput[][]) {
      for (const status of statuses) {
        const { snapshot } = drive({ type: 'ATTEMPT.SUBMITTED', externalId: 'x' }, ...watched, { type: 'OPERATOR.REPORTED', status });
        expect([watched, status, isCollecting(snapshot)]).toEqual([watched, status, reportStartsCollecting(status)]);
      }
    }
  });
});
