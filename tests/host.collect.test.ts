import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { OperatorEntry } from '../workspace/operators-config.ts';
import { LocalOperator } from '../operators/local-operator.ts';
import type { CollectedResults, OperatorContext, PollResult, SubmitResult, Unsubscribe } from '../operators/operator.ts';
import { RunHost, type EffectHandler } from '../host/run-host.ts';
import { initializeRun } from '../host/run-lifecycle.ts';
import { runUntilCompletion, stepRun } from '../host/drive-run.ts';
import { RunStore } from '../host/run-store.ts';
import { DelegatingEventLog } from '../storage/delegating-event-log.ts';
import type { ValidNewEvent } from '../events/envelope.ts';
import type { AppendResult } from '../events/event-log.ts';
import { parseAttemptEvent, parseRunEvent } from '../events/run-events.ts';
import { SqliteEventLog } from '../storage/sqlite-event-log.ts';
import type { PendingEffect } from '../machines/pending-effects.ts';
import { InstantOperator } from '../harness/instant-operator.ts';
import { verifyAndClose } from './harness/verify-and-close.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

/** Numbers every append, so a test can tell which records went into the same one. */
class AppendNumberingLog extends DelegatingEventLog {
  readonly appendOf: { actor: string; type: string; append: number; results?: { type: string } }[] = [];
  private appends = 0;
  override async append(runId: string, events: readonly ValidNewEvent[], expectedSeq: number): Promise<AppendResult> {
    const result = await this.inner.append(runId, events, expectedSeq);
    this.appends += 1;
    for (const e of events) {
      const results = (e.payload as { results?: { type: string } }).results;
      this.appendOf.push({ actor: e.actor, type: e.type, append: this.appends, ...(results !== undefined ? { results } : {}) });
    }
    return result;
  }
}

/** The real local operator, counting collectResults per attempt. */
class CountingLocalOperator extends LocalOperator {
  readonly collected = new Map<string, number>();
  override async collectResults(ctx: OperatorContext): Promise<CollectedResults> {
    this.collected.set(ctx.attempt.attemptId, (this.collected.get(ctx.attempt.attemptId) ?? 0) + 1);
    return super.collectResults(ctx);
  }
}

let temp: TempRoot | undefined;
afterEach(() => temp?.cleanup());

const TASKS = [
  { id: 'ok', command: 'echo 42 > out.txt' },
  { id: 'bad', command: 'exit 3', allowFailure: true },
  { id: 'after', command: 'true', dependencies: ['ok'] },
];

/** Runs TASKS with real processes (live or stepped) and returns the appends and the collect counts. */
async function runTasks(drive: 'live' | 'step'): Promise<{ log: AppendNumberingLog; operator: CountingLocalOperator }> {
  temp = tempRoot();
  temp.workspace('ws', oneWorkflowCampaign(TASKS));
  const log = new AppendNumberingLog(SqliteEventLog.open(path.join(temp.root, 'events.sqlite')));
  const store = await RunStore.open({ root: temp.root, log });
  const operator = new CountingLocalOperator();
  const options = { registry: { factories: { local: (_key: string, _entry: OperatorEntry) => operator } } };
  const run = await initializeRun({ store, workspace: 'ws', runId: `collect-${drive}` });
  try {
    if (drive === 'live') expect(await runUntilCompletion(run, options)).toBe('COMPLETED');
    else {
      let status = await stepRun(run, options);
      for (let cycle = 0; cycle < 200 && status !== 'COMPLETED'; cycle++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        status = await stepRun(run, options);
      }
      expect(status).toBe('COMPLETED');
    }
  } finally {
    await verifyAndClose(run);
    await store.close();
    await log.close();
  }
  return { log, operator };
}

describe('results come with the report that ends an attempt, and a report that comes at once with SUBMITTED', () => {
  for (const drive of ['live', 'step'] as const) {
    it(`${drive}: the terminal report carries the results (one record, no collect effect), collected once per attempt (real processes)`, async () => {
      const { log, operator } = await runTasks(drive);
      const attempts = ['ok-a1', 'bad-a1', 'after-a1'];
      for (const attemptId of attempts) {
        const records = log.appendOf.filter((r) => r.actor === attemptId);
        const report = records.filter((r) => r.type === 'OPERATOR.REPORTED').at(-1);
        expect(report?.results?.type, attemptId).toBe('ATTEMPT.RESULTS');
        expect(records.filter((r) => r.type === 'ATTEMPT.RESULTS'), attemptId).toHaveLength(0);
      }
      expect(Object.fromEntries(operator.collected)).toEqual({ 'ok-a1': 1, 'bad-a1': 1, 'after-a1': 1 });
    });
  }

  it('an operator that answers at once (in-process push): SUBMITTED and its report with the results are one append', async () => {
    temp = tempRoot();
    temp.workspace('ws', oneWorkflowCampaign([]));
    const log = new AppendNumberingLog(SqliteEventLog.open(path.join(temp.root, 'events.sqlite')));
    const store = await RunStore.open({ root: temp.root, log });
    const chain = ['a', 'b', 'c', 'd'].map((id, i, all) => ({ id, command: 'true', dependencies: i === 0 ? [] : [all[i - 1] as string] }));
    const campaign = { plan: (state: unknown) => (state === null ? { tasks: chain } : null), analyze: () => ({ done: true }) };
    const run = await initializeRun({ store, workspace: 'ws', runId: 'instant', campaign });
    try {
      const options = { campaign, registry: { factories: { local: (_key: string, _entry: OperatorEntry) => new InstantOperator() } } };
      expect(await runUntilCompletion(run, options)).toBe('COMPLETED');
      for (const { id } of chain) {
        const appends = log.appendOf.filter((r) => r.actor === `${id}-a1` && r.type !== 'ATTEMPT.CREATED');
        expect(appends.map((r) => r.type), id).toEqual(['ATTEMPT.SUBMITTED', 'OPERATOR.REPORTED']);
        expect(appends[1]?.results?.type, id).toBe('ATTEMPT.RESULTS');
        expect(new Set(appends.map((r) => r.append)).size, id).toBe(1);
      }
    } finally {
      await verifyAndClose(run);
      await store.close();
      await log.close();
    }
  });

  it('a submit that returns after the drive stopped leaves no watcher behind', async () => {
    temp = tempRoot();
    temp.workspace('ws', oneWorkflowCampaign([{ id: 'slow', command: 'true' }]));
    let release: () => void = () => undefined;
    let submitted: () => void = () => undefined;
    const submitCalled = new Promise<void>((resolve) => (submitted = resolve));
    let watching = 0;
    class SlowSubmitOperator extends InstantOperator {
      override async submit(ctx: OperatorContext): Promise<SubmitResult> {
        submitted();
        await new Promise<void>((resolve) => (release = resolve));
        return super.submit(ctx);
      }
      override watch(_ctx: OperatorContext, _onChange: (result: PollResult) => void): Unsubscribe {
        watching += 1;
        return () => {
          watching -= 1;
        };
      }
    }
    const run = await initializeRun({ root: temp.root, workspace: 'ws', runId: 'stopped' });
    try {
      const controller = new AbortController();
      const drive = runUntilCompletion(run, { signal: controller.signal, registry: { factories: { local: () => new SlowSubmitOperator() } } });
      await submitCalled;
      controller.abort();
      expect(await drive).toBe('RUNNING');
      release();
      for (let i = 0; i < 5; i++) await new Promise(setImmediate);
      expect(watching).toBe(0);
    } finally {
      await run.close();
    }
  });

  it('the host does not start an effect a later record of the same batch made moot (collect after results)', async () => {
    temp = tempRoot();
    const log = SqliteEventLog.open(path.join(temp.root, 'events.sqlite'));
    const started: PendingEffect['effect']['type'][] = [];
    const effects: EffectHandler = {
      async run(_host, pending) {
        started.push(pending.effect.type);
      },
    };
    const host = RunHost.create(log, 'moot', { effects });
    try {
      await host.deliver([
        { actor: 'run', event: parseRunEvent({ type: 'RUN.CREATED', workspace: 'ws', maxConcurrent: null, configuredOperators: ['local.default'] }) },
        { actor: 'run', event: parseRunEvent({ type: 'CAMPAIGN.PLANNED', iteration: 0, state: null, workflow: { tasks: [{ id: 'a', command: 'true' }, { id: 'b', command: 'true' }] } }) },
        { actor: 'run', event: parseRunEvent({ type: 'RUN.STEP' }) },
      ]);
      await host.settle();
      expect(started).toEqual(['attempt.start', 'attempt.start']);
      const submitted = parseAttemptEvent({ type: 'ATTEMPT.SUBMITTED', externalId: 'x' });
      await host.deliver([
        { actor: 'a-a1', event: submitted },
        { actor: 'b-a1', event: submitted },
      ]);
      await host.settle();
      started.length = 0;
      // a: report and results in one batch — no collect; b: the report alone — collect owed.
      await host.deliver([
        { actor: 'a-a1', event: parseAttemptEvent({ type: 'OPERATOR.REPORTED', status: 'COMPLETED' }) },
        { actor: 'a-a1', event: parseAttemptEvent({ type: 'ATTEMPT.RESULTS', files: {} }) },
        { actor: 'b-a1', event: parseAttemptEvent({ type: 'OPERATOR.REPORTED', status: 'FAILED' }) },
      ]);
      await host.settle();
      expect(started).toEqual(['attempt.collect']);
    } finally {
      await log.close();
    }
  });
});
