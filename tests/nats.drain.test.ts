import fs from 'node:fs';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requestCommand, requestInit } from '../distributed/command-client.ts';
import { RunLeases } from '../distributed/run-leases.ts';
import { JetStreamEventLog } from '../storage/jetstream-event-log.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { countingCampaign, makeWorkspace } from './nats-fixtures/workspace.ts';
import { startWorkerProcess, type WorkerProcess } from './nats-fixtures/worker-process.ts';
import { readRunRecords } from './harness/read-run.ts';

const RUNS = 9;
const TASKS = 4;

let server: NatsServerHandle;
let root: string;
let counterDir: string;
let nc: NatsConnection;
let log: JetStreamEventLog;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  counterDir = fs.mkdtempSync(path.join(server.storeDir, '..', 'ms-drain-'));
  // Runs last a few seconds (4 tasks of 1.5 s), so the test finds w1 mid-run even on a loaded machine.
  root = makeWorkspace(countingCampaign(counterDir, TASKS, 1.5));
  nc = await connect({ servers: server.url, ...server.users.orchestrator });
  log = await JetStreamEventLog.connect({ servers: server.url, ...server.users.orchestrator });
}, 60_000);
afterAll(async () => {
  // Cleanup only: a worker that never started or has stopped already has nothing left to stop.
  for (const w of workers) await w.stop().catch(() => undefined);
  await nc?.close();
  await log?.close();
  await server?.stop();
  for (const dir of [root, counterDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('a worker drains on SIGTERM', () => {
  it('one of three workers gets SIGTERM mid-run: it exits within 10 s, the others finish its runs, no task runs twice', async () => {
    const pass = server.users.orchestrator.pass;
    for (const id of ['w1', 'w2', 'w3']) workers.push(await startWorkerProcess({ url: server.url, pass, root, id, leaseTtlMs: 3000, pollMs: 100 }));
    const runIds = Array.from({ length: RUNS }, (_, i) => `drain_${i}`);
    const inits = await Promise.all(runIds.map((runId) => requestInit(nc, { workspace: 'lab', runId, commandId: `init-${runId}` })));
    expect(inits.flatMap((r) => (r.accepted ? [] : [`${r.error.code}: ${r.error.message}`])).join('; ')).toBe('');

    const leases = await RunLeases.open(nc, { workerId: 'test_observer', ttlMs: 3000 });
    // Mid-run: w1 hosts runs with some tasks done and more to come.
    const hosted = await vi.waitFor(async () => {
      const owners = await Promise.all(runIds.map((runId) => leases.owner(runId)));
      const mine = runIds.filter((_, i) => owners[i] === 'w1');
      const started = mine.filter((runId) => fs.existsSync(path.join(counterDir, `${runId}.t0`)));
      expect(started).not.toEqual([]);
      return mine;
    }, { timeout: 60_000, interval: 50 });

    const w1 = workers[0]!;
    const sentAt = Date.now();
    await w1.stop();
    const tookMs = Date.now() - sentAt;
    // A clean exit (code 0), not the harness's SIGKILL after 10 s.
    expect({ code: w1.child.exitCode, signal: w1.child.signalCode }, w1.stderr().slice(-3000)).toEqual({ code: 0, signal: null });
    expect(tookMs).toBeLessThan(10_000);
    // It gave its leases back: nobody waits for them to expire.
    const owners = await Promise.all(hosted.map((runId) => leases.owner(runId)));
    expect(owners.filter((o) => o === 'w1')).toEqual([]);

    await vi.waitFor(async () => {
      const statuses = await Promise.all(runIds.map(async (runId) => {
        // A status request that times out counts as no answer yet: the caller waits on or reports the run as unknown.
        const reply = await requestCommand(nc, runId, 'status', {}, 10_000).catch(() => undefined);
        return reply?.accepted ? String(reply.status?.status) : undefined;
      }));
      expect(statuses.filter((s) => s !== 'COMPLETED')).toEqual([]);
    }, { timeout: 120_000, interval: 500 });

    for (const runId of runIds) {
      const events = await readRunRecords(log, runId);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
      for (let i = 0; i < TASKS; i++) {
        const lines = fs.readFileSync(path.join(counterDir, `${runId}.t${i}`), 'utf8').trim().split('\n');
        expect(lines, `${runId} t${i}`).toEqual([`t${i}-a1`]);
      }
    }
    // The runs w1 drained went on elsewhere.
    for (const runId of hosted) expect((await readRunRecords(log, runId)).some((e) => e.type === 'RUN.COMPLETED' || e.type.startsWith('RUN.'))).toBe(true);
  }, 300_000);
});
