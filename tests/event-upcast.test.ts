import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyReplay } from '../views/replay-run.ts';
import type { StoredEvent } from '../events/envelope.ts';
import type { EventLog } from '../events/event-log.ts';
import { JetStreamEventLog } from '../storage/jetstream-event-log.ts';
import { SqliteEventLog } from '../storage/sqlite-event-log.ts';
import { eventSubject } from '../events/subjects.ts';
import { upcastStoredRecord } from '../events/upcast.ts';
import type { RawStoredRecord } from '../events/validate-events.ts';
import { runCli } from './harness/cli.ts';
import { copyGoldenWorkspaces, readGoldenFile, restoreRecords } from './harness/golden-log.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';

// A log written in older shapes (tests/fixtures/generate-older-shapes.ts: results stored twice,
// commands without principal, ATTEMPT.SUBMITTED's external id named `jobId`) must restore and
// verify on both logs: older shapes are mapped at read (events/upcast.ts), the log is never rewritten.
const RUN_ID = 'older_catalyst';
const older = readGoldenFile(path.join(import.meta.dirname, 'fixtures', 'older-shapes', `${RUN_ID}.jsonl.gz`));
const submitted = older.filter((r) => r.type === 'ATTEMPT.SUBMITTED');
let tmp: string;
let server: NatsServerHandle | undefined;
let admin: NatsConnection | undefined;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-upcast-'));
});
afterAll(async () => {
  await admin?.close();
  await server?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function readAll(log: EventLog): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const record of log.readRun(RUN_ID)) out.push(record);
  return out;
}

/** What every read of the older log must show: each ATTEMPT.SUBMITTED with its externalId, none with jobId. */
function expectUpcast(read: StoredEvent[]): void {
  expect(read).toHaveLength(older.length);
  const reads = read.filter((r) => r.type === 'ATTEMPT.SUBMITTED');
  expect(reads.length).toBeGreaterThan(0);
  expect(reads.map((r) => r.payload)).toEqual(
    submitted.map((r) => {
      const { jobId, ...rest } = r.payload as Record<string, unknown>;
      return { externalId: jobId, ...rest };
    }),
  );
}

describe('records stored in older shapes', () => {
  it('the fixture really is in the older shapes: jobId on ATTEMPT.SUBMITTED, results inline, no principal', () => {
    expect(submitted.every((r) => 'jobId' in (r.payload as object) && !('externalId' in (r.payload as object)))).toBe(true);
    expect(older.filter((r) => r.type === 'ATTEMPT.RESULTS').every((r) => 'files' in (r.payload as object))).toBe(true);
    expect(JSON.stringify(older)).not.toContain('principal');
    expect(JSON.stringify(older)).not.toContain('$resultsIn');
  });

  it('restored into the embedded log, read back in the current shape (full and narrow reads) and verified against the current machines', async () => {
    const file = path.join(tmp, 'older.sqlite');
    await restoreRecords(file, older);
    const log = SqliteEventLog.open(file);
    try {
      expectUpcast(await readAll(log));
      let narrow = 0;
      for await (const page of log.readAllChanges()) narrow += page.length;
      expect(narrow).toBe(older.length);
      expect(await verifyReplay(log, RUN_ID)).toEqual({ ok: true, events: older.length, lastSeq: older.length });
    } finally {
      await log.close();
    }
  });

  it('restored into a workspaces root, `replay --verify`, `status` and `replay` work through the CLI', async () => {
    const root = path.join(tmp, 'root');
    copyGoldenWorkspaces(root);
    await restoreRecords(path.join(root, '.matterstack', 'events.sqlite'), older);
    const verify = await runCli(['replay', RUN_ID, '--verify', '--json'], { root });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.json()).toEqual({ ok: true, events: older.length, lastSeq: older.length });
    const status = await runCli(['status', RUN_ID, '--json'], { root });
    expect(status.json<{ status: string; tasks: { id: string; status: string }[] }>()).toMatchObject({ status: 'COMPLETED' });
    const timeline = await runCli(['replay', RUN_ID, '--type', 'ATTEMPT.SUBMITTED', '--json'], { root });
    expect(timeline.code, timeline.stderr).toBe(0);
    expect(timeline.json<unknown[]>()).toHaveLength(submitted.length);
  });

  it('published as raw JetStream messages, read back in the current shape and verified against the current machines', async () => {
    server = await startNatsServer();
    admin = await connect({ servers: server.url, user: server.users.orchestrator.user, pass: server.users.orchestrator.pass });
    const log = await JetStreamEventLog.connect({ servers: server.url, user: server.users.orchestrator.user, pass: server.users.orchestrator.pass });
    try {
      // As an older writer left them: one message per appended batch, each a JSON array of envelopes.
      const js = jetstream(admin);
      for (let i = 0; i < older.length; i += 7) await js.publish(eventSubject(RUN_ID), JSON.stringify(older.slice(i, i + 7)));
      expectUpcast(await readAll(log));
      expect(await verifyReplay(log, RUN_ID)).toEqual({ ok: true, events: older.length, lastSeq: older.length });
    } finally {
      await log.close();
    }
  });

  it('a record already in the current shape goes through as the very same object (nothing copied on the hot read path)', () => {
    const current: RawStoredRecord = { runId: 'r', seq: 1, position: 1, schemaVersion: 1, eventId: 'e', type: 'ATTEMPT.SUBMITTED', actor: 't-a1', time: '2026-01-01T00:00:00Z', payload: { externalId: '42', status: 'RUNNING' }, from: null, to: null, changes: [] };
    expect(upcastStoredRecord(current)).toBe(current);
    const both = { ...current, payload: { externalId: '42', jobId: 'x' } };
    expect(upcastStoredRecord(both)).toBe(both);
  });
});
