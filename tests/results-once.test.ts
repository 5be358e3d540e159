import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ValidNewEvent } from '../events/envelope.ts';
import { JetStreamEventLog } from '../storage/jetstream-event-log.ts';
import { SqliteEventLog } from '../storage/sqlite-event-log.ts';
import { eventSubject } from '../events/subjects.ts';
import { makeEvent } from './event-log.contract.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { readRunRecords } from './harness/read-run.ts';

const MARKER = 'once-marker-51c2';
const files = { 'out/e.json': '/runs/r/attempts/t/t-a1/out/e.json' };
const data = { energy: -1.5, note: MARKER };

/** An ATTEMPT.RESULTS record as the host writes it: the change holds the payload's own objects. */
function resultsRecord(): ValidNewEvent {
  return makeEvent({
    type: 'ATTEMPT.RESULTS',
    actor: 't-a1',
    payload: { files, data },
    from: { completed: 'collecting' },
    to: { completed: 'collected' },
    changes: [{ kind: 'attempt.results', attemptId: 't-a1', files, data }],
  });
}

/** An OPERATOR.REPORTED that ended the attempt carrying its results (one record instead of two). */
function reportRecord(): ValidNewEvent {
  return makeEvent({
    type: 'OPERATOR.REPORTED',
    actor: 't-a1',
    payload: { status: 'COMPLETED', results: { type: 'ATTEMPT.RESULTS', files, data } },
    from: 'running',
    to: { completed: 'collected' },
    changes: [
      { kind: 'attempt.status', attemptId: 't-a1', status: 'COMPLETED' },
      { kind: 'attempt.results', attemptId: 't-a1', files, data },
    ],
  });
}

/** The same record as the previous version stored it: results in the payload and in the changes. */
function legacyEnvelope(runId: string, seq: number, record: ValidNewEvent): Record<string, unknown> {
  return { runId, seq, schemaVersion: 1, ...record };
}

function occurrences(text: string): number {
  return text.split(MARKER).length - 1;
}

const dir = mkdtempSync(join(tmpdir(), 'ms-results-once-'));
let server: NatsServerHandle;
let admin: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  admin = await connect({ servers: server.url, user: server.users.orchestrator.user, pass: server.users.orchestrator.pass });
});

afterAll(async () => {
  await admin?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('optimisation: an attempt’s results are stored once per record, and read back whole', () => {
  it('SQLite: one copy in the row; the event reads back with its payload; a row of the previous version reads as it was', async () => {
    const file = join(dir, 'log.sqlite');
    const log = SqliteEventLog.open(file);
    const record = resultsRecord();
    await log.append('r1', [record], 0);
    const db = new Database(file);
    const row = db.prepare(`SELECT payload, changes FROM events WHERE run_id = 'r1'`).get() as { payload: string; changes: string };
    expect(occurrences(row.payload + row.changes)).toBe(1);
    const [read] = await readRunRecords(log, 'r1');
    expect(read?.payload).toEqual({ files, data });
    expect(read?.changes).toEqual(record.changes);

    db.prepare(
      `INSERT INTO events (run_id, seq, event_id, type, actor, time, payload, from_state, to_state, changes, schema_version)
       VALUES ('r1', 2, 'legacy-1', 'ATTEMPT.RESULTS', 't-a1', ?, ?, '{"completed":"collecting"}', '{"completed":"collected"}', ?, 1)`,
    ).run(record.time, JSON.stringify({ files, data }), JSON.stringify(record.changes));
    db.close();
    const legacy = (await readRunRecords(log, 'r1'))[1];
    expect(legacy?.payload).toEqual({ files, data });
    expect(legacy?.changes).toEqual(record.changes);
    await log.close();
  });

  it('SQLite: a report carrying the results stores them once too, and reads back with its results in place (keys in order)', async () => {
    const file = join(dir, 'report.sqlite');
    const log = SqliteEventLog.open(file);
    const record = reportRecord();
    await log.append('r5', [record], 0);
    const db = new Database(file);
    const row = db.prepare(`SELECT payload, changes FROM events WHERE run_id = 'r5'`).get() as { payload: string; changes: string };
    db.close();
    expect(occurrences(row.payload + row.changes)).toBe(1);
    const [read] = await readRunRecords(log, 'r5');
    expect(JSON.stringify(read?.payload)).toBe(JSON.stringify(record.payload));
    await log.close();
  });

  it('SQLite: a stored reference without the change it refers to is an invalid record naming run and seq', async () => {
    const file = join(dir, 'broken.sqlite');
    const log = SqliteEventLog.open(file);
    await log.append('r2', [makeEvent({ actor: 't-a1' })], 0);
    const db = new Database(file);
    db.prepare(
      `INSERT INTO events (run_id, seq, event_id, type, actor, time, payload, from_state, to_state, changes, schema_version)
       VALUES ('r2', 2, 'ref-1', 'ATTEMPT.RESULTS', 't-a1', '2025-01-01T00:00:00.000Z', '{"$resultsIn":"changes"}', NULL, NULL, '[]', 1)`,
    ).run();
    db.close();
    await expect(readRunRecords(log, 'r2')).rejects.toThrow(/run r2 seq 2: payload: refers to results its changes do not carry/);
    await log.close();
  });

  it('JetStream: one copy in the message; reads back whole; a message of the previous version reads as it was', async () => {
    const jsm = await jetstreamManager(admin);
    // No stream yet (a fresh server): nothing to delete.
    await jsm.streams.delete('MS_EVENTS').catch(() => undefined);
    const log = await JetStreamEventLog.connect({ servers: server.url, user: server.users.orchestrator.user, pass: server.users.orchestrator.pass, storage: 'file' });
    try {
      const record = resultsRecord();
      await log.append('r3', [record], 0);
      const stored = await jsm.streams.getMessage('MS_EVENTS', { last_by_subj: eventSubject('r3') });
      expect(occurrences(new TextDecoder().decode(stored!.data))).toBe(1);
      const [read] = await readRunRecords(log, 'r3');
      expect(read?.payload).toEqual({ files, data });
      const report = reportRecord();
      await log.append('r6', [report], 0);
      const storedReport = await jsm.streams.getMessage('MS_EVENTS', { last_by_subj: eventSubject('r6') });
      expect(occurrences(new TextDecoder().decode(storedReport!.data))).toBe(1);
      expect((await readRunRecords(log, 'r6'))[0]?.payload).toEqual(report.payload);

      // The previous version's message: both copies, no reference.
      await jsm.streams.purge('MS_EVENTS', { filter: eventSubject('r4') });
      admin.publish(eventSubject('r4'), JSON.stringify([legacyEnvelope('r4', 1, resultsRecord())]));
      await admin.flush();
      const [legacy] = await readRunRecords(log, 'r4');
      expect(legacy?.payload).toEqual({ files, data });
      expect(legacy?.changes).toEqual([{ kind: 'attempt.results', attemptId: 't-a1', files, data }]);
    } finally {
      await log.close();
    }
  });
});
