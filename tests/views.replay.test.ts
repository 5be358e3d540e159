import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../events/envelope.ts';
import { SqliteEventLog } from '../storage/sqlite-event-log.ts';
import { Projector } from '../projections/projector.ts';
import { listAttempts, listTasks } from '../projections/queries.ts';
import { initializeRun, sendCommand } from '../host/run-lifecycle.ts';
import { runUntilCompletion } from '../host/drive-run.ts';
import { STATE_DIR } from '../host/run-store.ts';
import { formatStateAt, formatTimeline, formatVerifyResult } from '../views/format-replay.ts';
import { replayTimeline, stateAt, verifyReplay } from '../views/replay-run.ts';
import { currentWriter } from '../host/writer-stamp.ts';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
});

function workspace(source: string): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-replay-'));
  roots.push(root);
  fs.mkdirSync(path.join(root, 'lab'), { recursive: true });
  fs.writeFileSync(path.join(root, 'lab', 'campaign.mjs'), source);
  return root;
}

const TWO_STEP = `
export function plan(state) { return state === null ? { tasks: [
  { id: 'make', command: 'echo 21 > value.txt' },
  { id: 'double', command: 'true', dependencies: ['make'] },
] } : null; }
export function analyze() { return { done: true }; }
`;

/** A completed two-task run plus one rejected command; the log stays in `<root>/.matterstack/events.sqlite`. */
async function finishedRun(runId: string): Promise<string> {
  const root = workspace(TWO_STEP);
  const run = await initializeRun({ root, workspace: 'lab', runId });
  try {
    expect(await runUntilCompletion(run)).toBe('COMPLETED');
    expect((await sendCommand(run, { type: 'CMD.PAUSE' })).accepted).toBe(false);
  } finally {
    await run.close();
  }
  return path.join(root, STATE_DIR, 'events.sqlite');
}

async function withLog<T>(file: string, job: (log: SqliteEventLog) => Promise<T>): Promise<T> {
  const log = SqliteEventLog.open(file);
  try {
    return await job(log);
  } finally {
    await log.close();
  }
}

describe('replay views', () => {
  it('replayTimeline shows every transition with what changed, and filters by actor, type and seq', async () => {
    const file = await finishedRun('rp1');
    await withLog(file, async (log) => {
      const all = await replayTimeline(log, 'rp1');
      expect(all.map((e) => e.seq)).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
      // The host that created the run said first who wrote it; every record carries that writer.
      expect(all[0]).toMatchObject({ seq: 1, actor: 'run', type: 'HOST.VERSION', from: null, to: null, changes: [] });
      expect(all[1]).toMatchObject({ seq: 2, actor: 'run', type: 'RUN.CREATED', from: null });
      expect(all.every((e) => e.writtenBy !== null && e.writtenBy.version === currentWriter().version && e.writtenBy.machines === currentWriter().machines)).toBe(true);
      const lines = all.flatMap((e) => e.changes);
      expect(lines).toContain('task make PENDING→RUNNING');
      expect(lines).toContain('task make RUNNING→COMPLETED');
      expect(lines.some((l) => /^attempt make-a1 CREATED→RUNNING \(pid \d+\)$/.test(l))).toBe(true);
      // sendCommand records the OS account as the principal (no --by: it is the only name known).
      expect(lines).toContain(`command pause by ${os.userInfo().username} rejected RUN_TERMINAL: the run is COMPLETED`);

      const make = await replayTimeline(log, 'rp1', { actor: 'make' });
      expect(make.length).toBeGreaterThan(0);
      expect(new Set(make.map((e) => e.actor))).toEqual(new Set(['make-a1']));
      const attempt = await replayTimeline(log, 'rp1', { actor: 'double-a1' });
      expect(attempt.every((e) => e.actor === 'double-a1')).toBe(true);
      const runOnly = await replayTimeline(log, 'rp1', { actor: 'run' });
      expect(runOnly.every((e) => e.actor === 'run')).toBe(true);

      const commands = await replayTimeline(log, 'rp1', { type: 'CMD.*' });
      expect(commands.map((e) => e.type)).toEqual(['CMD.PAUSE']);
      expect(await replayTimeline(log, 'rp1', { type: 'ATTEMPT.' })).toEqual(all.filter((e) => e.type.startsWith('ATTEMPT.')));
      expect((await replayTimeline(log, 'rp1', { type: 'RUN.CREATED' })).map((e) => e.seq)).toEqual([2]);

      const window = await replayTimeline(log, 'rp1', { fromSeq: 3, toSeq: 6 });
      expect(window.map((e) => e.seq)).toEqual([3, 4, 5, 6]);
      // Filtering keeps the before→after of the full history.
      expect(window).toEqual(all.slice(2, 6));

      const text = formatTimeline(all);
      expect(text).toMatch(/^-- written by MatterStack \S+ \(machines [0-9a-f]{16}\) --\n#1 \S+ run HOST\.VERSION - → -\n#2 \S+ run RUN\.CREATED - → /);
      expect(text).toContain('    task make PENDING→RUNNING');
      expect(formatTimeline([])).toBe('(no records match)\n');
    });
  });

  it('stateAt a middle seq shows the run as it was then: make RUNNING with an active attempt, double PENDING', async () => {
    const file = await finishedRun('rp2');
    await withLog(file, async (log) => {
      const all = await replayTimeline(log, 'rp2');
      const running = all.find((e) => e.changes.includes('task make PENDING→RUNNING'));
      expect(running).toBeDefined();
      const middle = await stateAt(log, 'rp2', running!.seq);
      expect(middle.seq).toBe(running!.seq);
      expect(middle.run?.status).toBe('RUNNING');
      expect(middle.run?.tasks.map((t) => [t.id, t.status])).toEqual([
        ['make', 'RUNNING'],
        ['double', 'PENDING'],
      ]);
      expect(middle.run?.active).toEqual([{ attemptId: 'make-a1', taskId: 'make', operatorKey: 'local.default' }]);
      expect(middle.attempts['make-a1']?.status).toBe('RUNNING');
      expect(middle.attempts['double-a1']).toBeUndefined();
      expect(formatStateAt(middle)).toContain('make: RUNNING, attempt make-a1');

      // The projections folded from the same prefix of the log agree with the machines' state there.
      const prefix: StoredEvent[] = [];
      for await (const record of log.readRun('rp2')) if (record.seq <= running!.seq) prefix.push(record);
      const db = new Database(':memory:');
      try {
        new Projector(db).apply(prefix);
        expect(listTasks(db, 'rp2').map((t) => [t.id, t.status])).toEqual(middle.run?.tasks.map((t) => [t.id, t.status]));
        expect(listAttempts(db, 'rp2').map((a) => [a.attemptId, a.status])).toEqual(
          Object.values(middle.attempts).map((a) => [a.attemptId, a.status]),
        );
      } finally {
        db.close();
      }

      const first = await stateAt(log, 'rp2', 2);
      expect(first.run?.status).toBe('PENDING');
      expect(first.run?.tasks).toEqual([]);

      const end = await stateAt(log, 'rp2', 10_000);
      expect(end.seq).toBe(all[all.length - 1]?.seq);
      expect(end.run?.status).toBe('COMPLETED');
      expect(end.run?.tasks.every((t) => t.status === 'COMPLETED')).toBe(true);
      expect(end.run?.active).toEqual([]);
    });
  });

  it('verifyReplay passes on a real run and names the seq of a tampered `to` or `changes` column', async () => {
    const file = await finishedRun('rp3');
    const all = await withLog(file, async (log) => {
      const result = await verifyReplay(log, 'rp3');
      expect(result).toMatchObject({ ok: true, events: await log.lastSeq('rp3') });
      expect(formatVerifyResult(result)).toMatch(/^replay verified: \d+ records/);
      return replayTimeline(log, 'rp3');
    });
    const target = all.find((e) => e.changes.includes('task make PENDING→RUNNING'))!.seq;

    const db = new Database(file);
    const row = db.prepare('SELECT to_state, changes FROM events WHERE run_id = ? AND seq = ?').get('rp3', target) as { to_state: string; changes: string };
    db.prepare('UPDATE events SET to_state = ? WHERE run_id = ? AND seq = ?').run(JSON.stringify('paused'), 'rp3', target);
    db.close();
    await withLog(file, async (log) => {
      const result = await verifyReplay(log, 'rp3');
      expect(result.ok).toBe(false);
      if (result.ok) throw new Error('unreachable');
      expect(result.seq).toBe(target);
      expect(result.expected.to).toBe('paused');
      expect(result.actual?.to).toEqual(JSON.parse(row.to_state));
      expect(result.message).toContain(`seq ${target}`);
      expect(formatVerifyResult(result)).toContain(`replay DIVERGES at seq ${target}`);
    });

    // Restore `to`, tamper a domain fact instead: the task went RUNNING, the log now says FAILED.
    const tamperedChanges = row.changes.replace('"taskId":"make","status":"RUNNING"', '"taskId":"make","status":"FAILED"');
    expect(tamperedChanges).not.toBe(row.changes);
    const db2 = new Database(file);
    db2.prepare('UPDATE events SET to_state = ?, changes = ? WHERE run_id = ? AND seq = ?').run(row.to_state, tamperedChanges, 'rp3', target);
    db2.close();
    await withLog(file, async (log) => {
      const result = await verifyReplay(log, 'rp3');
      expect(result).toMatchObject({ ok: false, seq: target });
      if (result.ok) throw new Error('unreachable');
      expect(result.message).toContain('changes');
      expect(result.expected.to).toEqual(result.actual?.to);
    });
  });
});
