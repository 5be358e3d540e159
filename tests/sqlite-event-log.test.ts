import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { EventLog } from '../events/event-log.ts';
import { DelegatingEventLog } from '../storage/delegating-event-log.ts';
import { SqliteEventLog } from '../storage/sqlite-event-log.ts';
import { Projector } from '../projections/projector.ts';
import { appendWithRetry, eventLogContract, makeEvent } from './event-log.contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'ms-sqlite-log-'));
const paths = new Map<EventLog, string>();
let files = 0;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

eventLogContract('SqliteEventLog', {
  async open() {
    files += 1;
    const path = join(dir, `log-${files}.sqlite`);
    const log = SqliteEventLog.open(path);
    paths.set(log, path);
    return log;
  },
  async openSibling(log) {
    const path = paths.get(log) as string;
    const sibling = SqliteEventLog.open(path);
    paths.set(sibling, path);
    return sibling;
  },
  async corrupt(log, runId) {
    const db = new Database(paths.get(log) as string);
    db.prepare(
      `INSERT INTO events (run_id, seq, event_id, type, actor, time, payload, from_state, to_state, changes, schema_version)
       VALUES (?, 3, 'garbage-id', 'X', 'run', 'not a time', '{not json', NULL, NULL, '[]', 1)`,
    ).run(runId);
    db.close();
  },
});

describe('SqliteEventLog across processes', () => {
  it('stays gap-free while a child process appends to the same file', async () => {
    const path = join(dir, 'multi-process.sqlite');
    const log = SqliteEventLog.open(path);
    const runId = 'shared_run';
    const child = promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'harness', 'sqlite-append-child.ts'), path, runId, '200', 'child'],
      { cwd: join(import.meta.dirname, '..') },
    );
    const mine: string[] = [];
    for (let i = 0; i < 200; i++) {
      const event = makeEvent({ actor: 'run' });
      await appendWithRetry(log, runId, [event]);
      mine.push(event.eventId);
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    const { stdout } = await child;
    const theirs = JSON.parse(stdout) as string[];
    const read: string[] = [];
    let seq = 0;
    for await (const event of log.readRun(runId)) {
      seq += 1;
      expect(event.seq).toBe(seq);
      read.push(event.eventId);
    }
    expect(read.sort()).toEqual([...mine, ...theirs].sort());
    await log.close();
  });

  it('reports a record with a wrong shape (valid JSON) naming run and seq', async () => {
    const path = join(dir, 'shape.sqlite');
    const log = SqliteEventLog.open(path);
    await log.append('r1', [makeEvent()], 0);
    const db = new Database(path);
    db.prepare(`UPDATE events SET changes = '[{"kind":"task.status","taskId":"t","status":"NOPE"}]' WHERE run_id = 'r1'`).run();
    db.close();
    const error = await (async () => {
      for await (const _ of log.readRun('r1')) void _;
    })().catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/run r1 seq 1: changes\[0\]\.status/);
    await log.close();
  });

  it('a record moved out of its run (its run id or sequence damaged) is refused as missing by readRun and follow, naming run and seq', async () => {
    const path = join(dir, 'gap.sqlite');
    const log = SqliteEventLog.open(path);
    await log.append('r1', [makeEvent(), makeEvent(), makeEvent(), makeEvent()], 0);
    for (const damage of [`run_id = ''`, `run_id = 'r2'`, 'seq = 40']) {
      const db = new Database(path);
      db.prepare(`UPDATE events SET ${damage} WHERE run_id = 'r1' AND seq = 3`).run();
      const readRun = await (async () => {
        for await (const _ of log.readRun('r1')) void _;
      })().catch((e: unknown) => e);
      expect(readRun, damage).toMatchObject({ code: 'INVALID_EVENT', message: expect.stringMatching(/run r1 seq 3: missing: .* sequence 4/) });
      const seen: number[] = [];
      const follow = await (async () => {
        for await (const event of log.follow({ runId: 'r1' })) seen.push(event.seq);
      })().catch((e: unknown) => e);
      expect(seen, damage).toEqual([1, 2]);
      expect(follow, damage).toMatchObject({ code: 'INVALID_EVENT', message: expect.stringMatching(/run r1 seq 3: missing/) });
      db.prepare(`UPDATE events SET run_id = 'r1', seq = 3 WHERE event_id = (SELECT event_id FROM events ORDER BY position LIMIT 1 OFFSET 2)`).run();
      db.close();
      const reads: number[] = [];
      for await (const event of log.readRun('r1')) reads.push(event.seq);
      expect(reads, `${damage}, repaired`).toEqual([1, 2, 3, 4]);
    }
    await log.close();
  });

  it('the narrow rebuild read (readAllChanges) also reports a corrupt record naming run and seq, and a rebuild stops there', async () => {
    const path = join(dir, 'narrow.sqlite');
    const log = SqliteEventLog.open(path);
    await log.append('r1', [makeEvent(), makeEvent(), makeEvent()], 0);
    const pages: number[] = [];
    for await (const page of log.readAllChanges()) pages.push(page.length);
    expect(pages.reduce((a, b) => a + b, 0)).toBe(3);
    for (const [column, value] of [
      ['changes', '[{"kind":"task.status","taskId":"t","status":"NOPE"}]'],
      ['changes', '{not json'],
      ['time', 'yesterday'],
    ] as const) {
      const db = new Database(path);
      const original = db.prepare(`SELECT ${column} AS v FROM events WHERE run_id = 'r1' AND seq = 2`).get() as { v: string };
      db.prepare(`UPDATE events SET ${column} = ? WHERE run_id = 'r1' AND seq = 2`).run(value);
      const error = await (async () => {
        for await (const _ of log.readAllChanges()) void _;
      })().catch((e: unknown) => e);
      expect(error, column).toMatchObject({ code: 'INVALID_EVENT' });
      expect((error as Error).message).toMatch(/run r1 seq 2/);
      const projections = new Database(':memory:');
      await expect(new Projector(projections).rebuild(log)).rejects.toMatchObject({ code: 'INVALID_EVENT' });
      projections.close();
      db.prepare(`UPDATE events SET ${column} = ? WHERE run_id = 'r1' AND seq = 2`).run(original.v);
      db.close();
    }
    await log.close();
  });

  it('a wrapping log (DelegatingEventLog) keeps the narrow rebuild read of the log it wraps', async () => {
    const log = SqliteEventLog.open(join(dir, 'wrapped.sqlite'));
    await log.append('r1', [makeEvent(), makeEvent()], 0);
    const wrapped = new DelegatingEventLog(log);
    const read = async (source: { readAllChanges?: (after?: number) => AsyncIterable<readonly unknown[]> }): Promise<unknown[]> => {
      const out: unknown[] = [];
      for await (const page of source.readAllChanges!()) out.push(...page);
      return out;
    };
    expect(typeof wrapped.readAllChanges).toBe('function');
    expect(await read(wrapped)).toEqual(await read(log));
    expect(await read(wrapped)).toHaveLength(2);
    await log.close();
  });
});
