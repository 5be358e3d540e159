import type Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DomainChange } from '../events/changes.ts';
import type { EventLog } from '../events/event-log.ts';
import type { ValidNewEvent, StoredEvent } from '../events/envelope.ts';
import { isMatterStackError } from '../events/errors.ts';
import { Projector } from '../projections/projector.ts';
import {
  getCampaignStates,
  getRun,
  getRunStatus,
  listAttempts,
  listCommands,
  listRuns,
  listTasks,
} from '../projections/queries.ts';
import { dumpTables, newEvent, openDb, storedRun, tempDir } from './projections-fixtures.ts';
import { InMemoryEventLog } from './projections-in-memory-log.ts';

const RUN = 'run_1';
const at = (second: number): string => new Date(Date.UTC(2025, 0, 1) + second * 1000).toISOString();

let tmp: ReturnType<typeof tempDir>;
let db: Database.Database;
let projector: Projector;

beforeEach(() => {
  tmp = tempDir();
  db = openDb(tmp.file('projections.sqlite'));
  projector = new Projector(db);
});
afterEach(() => {
  db.close();
  tmp.cleanup();
});

/** Given these changes, one event each (at seconds 1, 2, ...), applied to the projector. */
function given(...changes: (DomainChange | DomainChange[])[]): StoredEvent[] {
  const events = storedRun(
    RUN,
    changes.map((c, i) => newEvent('TEST', Array.isArray(c) ? c : [c], { second: i + 1 })),
  );
  projector.apply(events);
  return events;
}

const created: DomainChange = { kind: 'run.created', workspace: 'demos/screening', maxConcurrent: 4 };
const planned: DomainChange = {
  kind: 'workflow.planned',
  iteration: 0,
  tasks: [
    { id: 'prep', kind: 'compute', command: 'echo', dependencies: [], allowFailure: false, allowDependencyFailure: false },
    {
      id: 'approve',
      kind: 'gate',
      message: 'Go on?',
      dependencies: ['prep'],
      allowFailure: false,
      allowDependencyFailure: false,
      operatorKey: 'human.default',
    },
  ],
};

describe('run changes', () => {
  it('run.created inserts a PENDING run with its workspace, cap and creation time', () => {
    given(created);
    expect(getRun(db, RUN)).toEqual({
      runId: RUN,
      workspace: 'demos/screening',
      status: 'PENDING',
      statusReason: null,
      phase: 'pending',
      iteration: null,
      maxConcurrent: 4,
      createdAt: at(1),
      updatedAt: at(1),
      lastSeq: 1,
    });
  });

  it('run.status and run.phase set status, reason and phase; updated_at and last_seq follow every event', () => {
    given(created, { kind: 'run.status', status: 'RUNNING' }, [
      { kind: 'run.status', status: 'FAILED', reason: 'tasks failed: prep' },
      { kind: 'run.phase', phase: 'failed' },
    ]);
    expect(getRun(db, RUN)).toMatchObject({
      status: 'FAILED',
      statusReason: 'tasks failed: prep',
      phase: 'failed',
      updatedAt: at(3),
      lastSeq: 3,
    });
  });

  it('listRuns lists active runs by default and every run with {all: true}', () => {
    const a = storedRun('a', [newEvent('T', [created])]);
    const b = storedRun('b', [newEvent('T', [created]), newEvent('T', [{ kind: 'run.status', status: 'COMPLETED' }])]);
    const c = storedRun('c', [newEvent('T', [created]), newEvent('T', [{ kind: 'run.status', status: 'PAUSED' }])]);
    projector.apply([...a, ...b, ...c]);
    expect(listRuns(db).map((r) => [r.runId, r.status])).toEqual([
      ['a', 'PENDING'],
      ['c', 'PAUSED'],
    ]);
    expect(listRuns(db, { all: true }).map((r) => r.runId)).toEqual(['a', 'b', 'c']);
  });
});

describe('workflow and task changes', () => {
  it('workflow.planned sets the run iteration and inserts PENDING tasks in workflow order with their definition', () => {
    given(created, planned);
    expect(getRun(db, RUN)?.iteration).toBe(0);
    const tasks = listTasks(db, RUN);
    expect(tasks.map((t) => [t.id, t.status, t.kind, t.order, t.attempts, t.operatorKey])).toEqual([
      ['prep', 'PENDING', 'compute', 0, 0, null],
      ['approve', 'PENDING', 'gate', 1, 0, 'human.default'],
    ]);
    expect(tasks[1]).toMatchObject({ dependencies: ['prep'], message: 'Go on?', spec: { id: 'approve', message: 'Go on?' } });
  });

  it('a re-planned task id keeps its status, attempts and pointer and takes the new definition', () => {
    given(
      created,
      planned,
      { kind: 'attempt.created', attemptId: 'prep-a1', taskId: 'prep', operatorKey: 'local.default' },
      { kind: 'task.status', taskId: 'prep', status: 'COMPLETED' },
      {
        kind: 'workflow.planned',
        iteration: 1,
        tasks: [{ id: 'prep', kind: 'compute', command: 'echo 2', dependencies: [], allowFailure: false, allowDependencyFailure: false }],
      },
    );
    const prep = listTasks(db, RUN).find((t) => t.id === 'prep');
    expect(prep).toMatchObject({ status: 'COMPLETED', attempts: 1, currentAttemptId: 'prep-a1', iteration: 1, order: 0 });
    expect(prep?.spec?.command).toBe('echo 2');
    expect(getRun(db, RUN)?.iteration).toBe(1);
  });

  it('task.status sets status and reason; the status view counts tasks per status', () => {
    given(created, planned, { kind: 'task.status', taskId: 'approve', status: 'SKIPPED', reason: 'dependency prep failed' });
    expect(listTasks(db, RUN)[1]).toMatchObject({ status: 'SKIPPED', statusReason: 'dependency prep failed', updatedAt: at(3) });
    const status = getRunStatus(db, RUN);
    expect(status?.counts).toEqual({ PENDING: 1, SKIPPED: 1 });
    expect(status?.tasks.map((t) => ({ id: t.id, status: t.status, operatorKey: t.operatorKey, attempts: t.attempts }))).toEqual([
      { id: 'prep', status: 'PENDING', operatorKey: null, attempts: 0 },
      { id: 'approve', status: 'SKIPPED', operatorKey: 'human.default', attempts: 0 },
    ]);
  });

  it('campaign.state records the state of each iteration (the latest of an iteration wins)', () => {
    given(
      created,
      { kind: 'campaign.state', iteration: 0, state: null },
      { kind: 'campaign.state', iteration: 1, state: { best: 0.5, seen: ['a'] } },
      { kind: 'campaign.state', iteration: 1, state: { best: 0.7, seen: ['a', 'b'] } },
    );
    expect(getCampaignStates(db, RUN)).toEqual([
      { iteration: 0, state: null, time: at(2), seq: 2 },
      { iteration: 1, state: { best: 0.7, seen: ['a', 'b'] }, time: at(4), seq: 4 },
    ]);
  });
});

describe('attempt changes', () => {
  const createdAttempt: DomainChange = { kind: 'attempt.created', attemptId: 'prep-a1', taskId: 'prep', operatorKey: 'hpc.cluster_a' };

  it('attempt.created inserts a CREATED attempt, numbers it, and moves the task pointer and resolved operator key', () => {
    given(created, planned, createdAttempt);
    expect(listAttempts(db, RUN, 'prep')).toEqual([
      {
        attemptId: 'prep-a1',
        taskId: 'prep',
        attemptNumber: 1,
        status: 'CREATED',
        operatorKey: 'hpc.cluster_a',
        externalId: null,
        dir: null,
        reason: null,
        operatorData: null,
        createdAt: at(3),
        submittedAt: null,
        endedAt: null,
        results: null,
        decision: null,
      },
    ]);
    expect(listTasks(db, RUN)[0]).toMatchObject({ currentAttemptId: 'prep-a1', attempts: 1, operatorKey: 'hpc.cluster_a' });
  });

  it('attempt.decision keeps the gate decision whole: verb, by, comment and data', () => {
    const data = { batch: 'B7', samples: [1, 2, { deep: 'x'.repeat(500) }] };
    given(created, planned, createdAttempt, { kind: 'attempt.decision', attemptId: 'prep-a1', verb: 'approved', by: 'alice', comment: 'looks right', data });
    expect(listAttempts(db, RUN, 'prep')[0]?.decision).toEqual({ verb: 'approved', by: 'alice', comment: 'looks right', data });
  });

  it('attempt.status keeps external id, operator data and dir once given; submitted_at is when it first left CREATED, ended_at when terminal', () => {
    given(
      created,
      planned,
      createdAttempt,
      { kind: 'attempt.status', attemptId: 'prep-a1', status: 'SUBMITTED', externalId: '4242', dir: 'attempts/prep/prep-a1', operatorData: { partition: 'gpu' } },
      { kind: 'attempt.status', attemptId: 'prep-a1', status: 'RUNNING' },
      { kind: 'attempt.status', attemptId: 'prep-a1', status: 'FAILED', reason: 'exit code 3' },
    );
    expect(listAttempts(db, RUN, 'prep')[0]).toMatchObject({
      status: 'FAILED',
      reason: 'exit code 3',
      externalId: '4242',
      dir: 'attempts/prep/prep-a1',
      operatorData: { partition: 'gpu' },
      createdAt: at(3),
      submittedAt: at(4),
      endedAt: at(6),
    });
  });

  it('an attempt that fails to initialise was never submitted', () => {
    given(created, planned, createdAttempt, { kind: 'attempt.status', attemptId: 'prep-a1', status: 'FAILED_INIT', reason: 'no operator hpc.x' });
    expect(listAttempts(db, RUN, 'prep')[0]).toMatchObject({ status: 'FAILED_INIT', submittedAt: null, endedAt: at(4), reason: 'no operator hpc.x' });
  });

  it('attempt.results stores files and data', () => {
    given(created, planned, createdAttempt, {
      kind: 'attempt.results',
      attemptId: 'prep-a1',
      files: { 'out/energy.json': '/abs/out/energy.json' },
      data: { energy: -1.5 },
    });
    expect(listAttempts(db, RUN, 'prep')[0]?.results).toEqual({ files: { 'out/energy.json': '/abs/out/energy.json' }, data: { energy: -1.5 } });
  });

  it('reruns keep every attempt, oldest first, and the task points at the newest', () => {
    given(
      created,
      planned,
      createdAttempt,
      { kind: 'attempt.status', attemptId: 'prep-a1', status: 'FAILED', reason: 'lost' },
      { kind: 'attempt.created', attemptId: 'prep-a2', taskId: 'prep', operatorKey: 'hpc.cluster_a' },
      { kind: 'attempt.created', attemptId: 'approve-a1', taskId: 'approve', operatorKey: 'human.default' },
    );
    expect(listAttempts(db, RUN, 'prep').map((a) => [a.attemptId, a.attemptNumber, a.status])).toEqual([
      ['prep-a1', 1, 'FAILED'],
      ['prep-a2', 2, 'CREATED'],
    ]);
    expect(listAttempts(db, RUN).map((a) => a.attemptId)).toEqual(['prep-a1', 'prep-a2', 'approve-a1']);
    expect(listTasks(db, RUN)[0]).toMatchObject({ currentAttemptId: 'prep-a2', attempts: 2 });
  });

  it('attempts of a run list in the order their creating records were logged, whatever the clock says', () => {
    projector.apply(storedRun(RUN, [
      newEvent('T', [created], { second: 5 }),
      newEvent('T', [planned], { second: 5 }),
      newEvent('T', [{ kind: 'attempt.created', attemptId: 'zz-a1', taskId: 'approve', operatorKey: 'human.default' }], { second: 5 }),
      newEvent('T', [{ kind: 'attempt.created', attemptId: 'aa-a1', taskId: 'prep', operatorKey: 'local.default' }], { second: 5 }),
    ]));
    expect(listAttempts(db, RUN).map((a) => a.attemptId)).toEqual(['zz-a1', 'aa-a1']);
  });

  it('a status for an attempt the run never created changes nothing', () => {
    given(created, planned);
    const before = dumpTables(db);
    projector.apply(storedRun(RUN, [
      newEvent('T', [created]), newEvent('T', [planned]),
      newEvent('T', [{ kind: 'attempt.status', attemptId: 'ghost', status: 'RUNNING' }], { second: 2 }),
    ]));
    const after = dumpTables(db);
    expect(after.attempts).toEqual(before.attempts);
  });
});

describe('command changes', () => {
  it('accepted and rejected commands are both recorded, in log order, with who asked', () => {
    given(
      created,
      { kind: 'command', verb: 'pause', accepted: true, by: 'alice' },
      { kind: 'command', verb: 'rerun', accepted: false, code: 'TASK_NOT_FOUND', reason: 'no task nope', target: 'nope', by: 'bob', principal: 'scientist' },
    );
    expect(listCommands(db, RUN)).toEqual([
      { seq: 2, verb: 'pause', accepted: true, code: null, reason: null, target: null, by: 'alice', principal: null, actor: 'run', time: at(2) },
      { seq: 3, verb: 'rerun', accepted: false, code: 'TASK_NOT_FOUND', reason: 'no task nope', target: 'nope', by: 'bob', principal: 'scientist', actor: 'run', time: at(3) },
    ]);
  });
});

describe('idempotency by sequence', () => {
  it('applying the same events twice leaves identical tables and reports them skipped', () => {
    const events = given(created, planned, { kind: 'attempt.created', attemptId: 'prep-a1', taskId: 'prep', operatorKey: 'local.default' });
    const before = dumpTables(db);
    expect(projector.apply(events)).toEqual({ applied: 0, skipped: 3 });
    expect(dumpTables(db)).toEqual(before);
  });

  it('a batch overlapping what is applied folds only the new tail', () => {
    const events = storedRun(RUN, [newEvent('T', [created]), newEvent('T', [planned]), newEvent('T', [{ kind: 'run.status', status: 'RUNNING' }])]);
    projector.apply(events.slice(0, 2));
    expect(projector.apply(events)).toEqual({ applied: 1, skipped: 2 });
    expect(getRun(db, RUN)).toMatchObject({ status: 'RUNNING', lastSeq: 3 });
  });

  it('a gap in a run refuses the whole batch and writes nothing', () => {
    const events = storedRun(RUN, [newEvent('T', [created]), newEvent('T', [planned]), newEvent('T', [{ kind: 'run.status', status: 'RUNNING' }])]);
    projector.apply(events.slice(0, 1));
    const before = dumpTables(db);
    let error: unknown;
    try {
      projector.apply([...storedRun('other', [newEvent('T', [created])]), events[2]!]);
    } catch (e) {
      error = e;
    }
    expect(isMatterStackError(error, 'INVALID_EVENT')).toBe(true);
    expect(dumpTables(db)).toEqual(before);
  });
});

async function appendAll(log: EventLog, runId: string, events: ValidNewEvent[]): Promise<void> {
  await log.append(runId, events, await log.lastSeq(runId));
}

describe('catch-up, restart and rebuild', () => {
  it('a new Projector on the same file continues from the stored position and never double-applies', async () => {
    const log = new InMemoryEventLog();
    await appendAll(log, 'r1', [newEvent('T', [created]), newEvent('T', [planned])]);
    await appendAll(log, 'r2', [newEvent('T', [created])]);
    expect(await projector.catchUp(log)).toEqual({ applied: 3, skipped: 0 });
    expect(projector.position()).toBe(3);
    db.close();

    await appendAll(log, 'r1', [newEvent('T', [{ kind: 'attempt.created', attemptId: 'prep-a1', taskId: 'prep', operatorKey: 'local.default' }])]);
    db = openDb(tmp.file('projections.sqlite'));
    projector = new Projector(db);
    expect(await projector.catchUp(log)).toEqual({ applied: 1, skipped: 0 });
    expect(await projector.catchUp(log)).toEqual({ applied: 0, skipped: 0 });
    expect(listTasks(db, 'r1')[0]?.attempts).toBe(1);
    expect(projector.lastSeq('r1')).toBe(3);
  });

  it('per-run live applies do not move the catch-up position, so catch-up still finds other runs', async () => {
    const log = new InMemoryEventLog();
    await appendAll(log, 'r1', [newEvent('T', [created])]);
    const r2 = await log.appendNext('r2', newEvent('T', [created]));
    projector.apply([r2]);
    expect(projector.position()).toBe(0);
    expect(await projector.catchUp(log)).toEqual({ applied: 1, skipped: 1 });
    expect(listRuns(db).map((r) => r.runId)).toEqual(['r1', 'r2']);
  });

  it('rebuild drops the tables and refolds the log into the same tables the live projector built', async () => {
    const log = new InMemoryEventLog();
    await appendAll(log, 'r1', [newEvent('T', [created]), newEvent('T', [planned])]);
    await projector.catchUp(log);
    await appendAll(log, 'r1', [newEvent('T', [{ kind: 'attempt.created', attemptId: 'prep-a1', taskId: 'prep', operatorKey: 'local.default' }])]);
    await projector.catchUp(log);
    const live = dumpTables(db);
    db.prepare("UPDATE tasks SET status = 'CORRUPTED'").run();
    expect(await projector.rebuild(log)).toEqual({ applied: 3, skipped: 0 });
    expect(dumpTables(db)).toEqual(live);
  });
});

describe('schema version', () => {
  it('tables of another schema version are dropped on open, so the next catch-up refolds the log', async () => {
    const log = new InMemoryEventLog();
    await appendAll(log, 'r1', [newEvent('T', [created]), newEvent('T', [planned])]);
    await projector.catchUp(log);
    const live = dumpTables(db);
    db.prepare("UPDATE projection_positions SET last_seq = 0 WHERE stream = '$schema'").run();
    projector = new Projector(db);
    expect(projector.position()).toBe(0);
    expect(listRuns(db, { all: true })).toEqual([]);
    expect(await projector.catchUp(log)).toEqual({ applied: 2, skipped: 0 });
    expect(dumpTables(db)).toEqual(live);
  });
});

const sqliteLogPath = new URL('../storage/sqlite-event-log.ts', import.meta.url);

describe.runIf(existsSync(sqliteLogPath))('with the embedded SqliteEventLog', () => {
  it('catchUp and rebuild from a real log file give the same tables', async () => {
    const { SqliteEventLog } = (await import('../storage/sqlite-event-log.ts')) as typeof import('../storage/sqlite-event-log.ts');
    const log = SqliteEventLog.open(tmp.file('log.sqlite'));
    try {
      await appendAll(log, 'r1', [newEvent('T', [created]), newEvent('T', [planned])]);
      await appendAll(log, 'r2', [newEvent('T', [created])]);
      await appendAll(log, 'r1', [
        newEvent('T', [{ kind: 'attempt.created', attemptId: 'prep-a1', taskId: 'prep', operatorKey: 'local.default' }]),
        newEvent('T', [{ kind: 'attempt.status', attemptId: 'prep-a1', status: 'COMPLETED' }, { kind: 'task.status', taskId: 'prep', status: 'COMPLETED' }]),
      ]);
      expect(await projector.catchUp(log)).toEqual({ applied: 5, skipped: 0 });
      const live = dumpTables(db);
      expect(live.tasks).toHaveLength(2);

      const other = new Projector(openDb(tmp.file('rebuilt.sqlite')));
      expect(await other.rebuild(log)).toEqual({ applied: 5, skipped: 0 });
      expect(dumpTables(other.db)).toEqual(live);
      other.db.close();
    } finally {
      await log.close();
    }
  });
  it('projections can live in the log file itself: catchUp after appends, rebuild, and the log still reads', async () => {
    const { SqliteEventLog } = (await import('../storage/sqlite-event-log.ts')) as typeof import('../storage/sqlite-event-log.ts');
    const path = tmp.file('shared.sqlite');
    const log = SqliteEventLog.open(path);
    const shared = new Projector(openDb(path));
    try {
      await appendAll(log, 'r1', [newEvent('T', [created]), newEvent('T', [planned])]);
      expect(await shared.catchUp(log)).toEqual({ applied: 2, skipped: 0 });
      await appendAll(log, 'r1', [newEvent('T', [{ kind: 'run.status', status: 'RUNNING' }])]);
      expect(await shared.catchUp(log)).toEqual({ applied: 1, skipped: 0 });
      const live = dumpTables(shared.db);
      expect(await shared.rebuild(log)).toEqual({ applied: 3, skipped: 0 });
      expect(dumpTables(shared.db)).toEqual(live);
      expect(await log.lastSeq('r1')).toBe(3);
      expect(getRun(shared.db, 'r1')?.status).toBe('RUNNING');
    } finally {
      shared.db.close();
      await log.close();
    }
  });
});
