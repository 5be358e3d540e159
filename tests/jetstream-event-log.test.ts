import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventLog } from '../events/event-log.ts';
import { JetStreamEventLog } from '../storage/jetstream-event-log.ts';
import { eventSubject } from '../events/subjects.ts';
import { eventLogContract, makeEvent } from './event-log.contract.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';

let server: NatsServerHandle;
let admin: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  admin = await connect({ servers: server.url, user: server.users.orchestrator.user, pass: server.users.orchestrator.pass });
});

afterAll(async () => {
  await admin?.close();
  await server?.stop();
});

const openLog = (): Promise<JetStreamEventLog> =>
  JetStreamEventLog.connect({ servers: server.url, user: server.users.orchestrator.user, pass: server.users.orchestrator.pass, storage: 'file' });

eventLogContract('JetStreamEventLog', {
  async open() {
    // A fresh stream per test: streams cannot overlap on ms.evt.>, so drop the previous one.
    const jsm = await jetstreamManager(admin);
    // No stream yet (a fresh server): nothing to delete.
    await jsm.streams.delete('MS_EVENTS').catch(() => undefined);
    return openLog();
  },
  async openSibling(_log: EventLog) {
    return openLog();
  },
  async corrupt(_log, runId) {
    // A core publish on the run's subject is captured by the stream without any check.
    admin.publish(eventSubject(runId), 'garbage{');
    await admin.flush();
  },
});

describe('JetStreamEventLog on a restarted server', () => {
  it('keeps the log across a server restart', async () => {
    const log = await openLog();
    await log.append('restart_run', [makeEvent()], 0);
    await log.close();
    await server.restart();
    const again = await openLog();
    expect(await again.lastSeq('restart_run')).toBe(1);
    await again.append('restart_run', [makeEvent()], 1);
    expect(await again.lastSeq('restart_run')).toBe(2);
    await again.close();
    await admin.close();
    admin = await connect({ servers: server.url, user: server.users.orchestrator.user, pass: server.users.orchestrator.pass });
  });
});

describe('JetStreamEventLog tails', () => {
  it('a message without the last-sequence header (written by an earlier version) still gives the run its tail', async () => {
    const log = await openLog();
    const runId = 'headerless_run';
    await log.append(runId, [makeEvent(), makeEvent()], 0);
    const jsm = await jetstreamManager(admin);
    const stored = await jsm.streams.getMessage('MS_EVENTS', { last_by_subj: eventSubject(runId) });
    expect(stored?.header?.get('Ms-Last-Seq')).toBe('2');
    await log.close();
    // The same bytes again, as the only message of the run, without any header.
    await jsm.streams.purge('MS_EVENTS', { filter: eventSubject(runId) });
    admin.publish(eventSubject(runId), stored!.data);
    await admin.flush();
    const fresh = await openLog();
    try {
      expect(await fresh.lastSeq(runId)).toBe(2);
      await fresh.append(runId, [makeEvent()], 2);
      const read = [];
      for await (const event of fresh.readRun(runId)) read.push(event.seq);
      expect(read).toEqual([1, 2, 3]);
    } finally {
      await fresh.close();
    }
  });
});

describe('JetStreamEventLog while its own append is in flight', () => {
  it('lastSeq answers the last acknowledged sequence it knows until the ack, then the new one', async () => {
    const log = await openLog();
    try {
      const runId = 'in_flight_run';
      await log.append(runId, [makeEvent()], 0);
      const appending = log.append(runId, Array.from({ length: 2000 }, () => makeEvent()), 1);
      // The publish is on its way: the server may already hold the message, but it is not acknowledged.
      await new Promise((resolve) => setImmediate(resolve));
      expect(await log.lastSeq(runId)).toBe(1);
      expect(await appending).toMatchObject({ firstSeq: 2, lastSeq: 2001 });
      expect(await log.lastSeq(runId)).toBe(2001);
    } finally {
      await log.close();
    }
  });
});

describe('JetStreamEventLog reading after the tail it knows', () => {
  it('finds what another writer appended after its own last append, and nothing past the end', async () => {
    const [mine, other] = [await openLog(), await openLog()];
    try {
      const runId = 'stale_tail_run';
      await mine.append(runId, [makeEvent(), makeEvent(), makeEvent()], 0);
      const seqs = async (afterSeq: number): Promise<number[]> => {
        const out: number[] = [];
        for await (const event of mine.readRun(runId, afterSeq)) out.push(event.seq);
        return out;
      };
      expect(await seqs(3)).toEqual([]);
      await other.append(runId, [makeEvent(), makeEvent()], 3);
      expect(await seqs(3)).toEqual([4, 5]);
      expect(await seqs(4)).toEqual([5]);
      expect(await seqs(5)).toEqual([]);
      expect(await seqs(0)).toEqual([1, 2, 3, 4, 5]);
    } finally {
      await mine.close();
      await other.close();
    }
  });
});

describe('JetStreamEventLog with the repository nats.conf', () => {
  it('stores an event over the 1 MB default payload (a plan of ~10,000 tasks is one 2.4 MB event) and reads it back whole', async () => {
    const log = await openLog();
    const big = 'x'.repeat(3 * 1024 * 1024);
    await log.append('big_event_run', [makeEvent({ payload: { status: 'RUNNING', note: big } })], 0);
    const read = [];
    for await (const event of log.readRun('big_event_run')) read.push(event);
    expect(read).toHaveLength(1);
    expect((read[0]!.payload as { note: string }).note).toBe(big);
    await log.close();
  });
});
