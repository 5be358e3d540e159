import fs from 'node:fs';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { JetStreamEventLog } from '../storage/jetstream-event-log.ts';
import { requestCommand, requestInit } from '../distributed/command-client.ts';
import { RunLeases } from '../distributed/run-leases.ts';
import { isActiveAttemptStatus, type AttemptStatus } from '../events/statuses.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { countingCampaign, makeWorkspace } from './nats-fixtures/workspace.ts';
import { startWorkerProcess, type WorkerProcess } from './nats-fixtures/worker-process.ts';
import { readRunRecords } from './harness/read-run.ts';

const RUNS = 20;
const TASKS = 3;

let server: NatsServerHandle;
let root: string;
let counterDir: string;
let nc: NatsConnection;
let log: JetStreamEventLog;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  counterDir = fs.mkdtempSync(path.join(server.storeDir, '..', 'ms-counters-'));
  root = makeWorkspace(countingCampaign(counterDir, TASKS, 0.4));
  nc = await connect({ servers: server.url, ...server.users.orchestrator });
  log = await JetStreamEventLog.connect({ servers: server.url, ...server.users.orchestrator });
});
afterAll(async () => {
  // Cleanup only: a worker that never started or has stopped already has nothing left to stop.
  for (const w of workers) await w.stop().catch(() => undefined);
  await nc?.close();
  await log?.close();
  await server?.stop();
  for (const dir of [root, counterDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function waitAllCompleted(runIds: string[], timeoutMs: number): Promise<Map<string, string>> {
  const statuses = new Map<string, string>();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const runId of runIds) {
      if (statuses.get(runId) === 'COMPLETED') continue;
      // A status request that times out counts as no answer yet: the caller waits on or reports the run as unknown.
      const reply = await requestCommand(nc, runId, 'status', {}, 10_000).catch(() => undefined);
      if (reply?.accepted) statuses.set(runId, String(reply.status?.status));
    }
    if (runIds.every((id) => statuses.get(id) === 'COMPLETED')) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  return statuses;
}

/** The attempts of `runId` still active (started, not ended) in its log as it stood at `at` (ms since the epoch). */
async function activeAttemptsAt(runId: string, at: number): Promise<string[]> {
  const last = new Map<string, AttemptStatus>();
  for (const e of await readRunRecords(log, runId)) {
    if (Date.parse(e.time) > at) continue;
    for (const c of e.changes) if (c.kind === 'attempt.status') last.set(c.attemptId, c.status);
  }
  return [...last].filter(([, status]) => isActiveAttemptStatus(status)).map(([id]) => id);
}

/** Every run's log is gap-free with unique event ids; every task ran exactly once, as the log says. */
async function checkExactlyOnce(runIds: string[]): Promise<void> {
  for (const runId of runIds) {
    const events = await readRunRecords(log, runId);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
    const created = events.filter((e) => e.type === 'ATTEMPT.CREATED');
    expect(created.map((e) => e.actor).sort()).toEqual(Array.from({ length: TASKS }, (_, i) => `t${i}-a1`).sort());
    for (let i = 0; i < TASKS; i++) {
      const lines = fs.readFileSync(path.join(counterDir, `${runId}.t${i}`), 'utf8').trim().split('\n');
      expect(lines, `${runId} t${i}`).toEqual([`t${i}-a1`]);
    }
  }
}

describe('workers sharing runs over JetStream', () => {
  it('three workers, twenty runs, one SIGKILLed mid-way: every run completes, nothing runs or is logged twice', async () => {
    const pass = server.users.orchestrator.pass;
    for (const id of ['w1', 'w2', 'w3']) workers.push(await startWorkerProcess({ url: server.url, pass, root, id, leaseTtlMs: 2000, pollMs: 100 }));
    const runIds = Array.from({ length: RUNS }, (_, i) => `run_${String(i).padStart(2, '0')}`);
    const inits = await Promise.all(runIds.map((runId) => requestInit(nc, { workspace: 'lab', runId, commandId: `init-${runId}` })));
    expect(inits.filter((r) => !r.accepted)).toEqual([]);

    // Mid-way: w1 drives runs with attempts under way (some tasks done, some running, some not started).
    const leases = await RunLeases.open(nc, { workerId: 'test_observer', ttlMs: 2000 });
    const held = await vi.waitFor(async () => {
      const owners = await Promise.all(runIds.map((runId) => leases.owner(runId)));
      const mine = runIds.filter((_, i) => owners[i] === 'w1');
      const busy = await Promise.all(mine.map((runId) => activeAttemptsAt(runId, Infinity)));
      expect(busy.flat()).not.toEqual([]);
      return mine;
    }, { timeout: 20_000, interval: 50 });
    await workers[0]!.kill();
    const killedAt = Date.now();
    // The kill hit unfinished work: runs w1 held were RUNNING with attempts under way at that moment.
    const hit = Object.fromEntries(await Promise.all(held.map(async (runId) => [runId, await activeAttemptsAt(runId, killedAt)] as const)));
    expect(Object.values(hit).flat(), JSON.stringify(hit)).not.toEqual([]);

    const statuses = await waitAllCompleted(runIds, 45_000);
    expect([...statuses.values()].filter((s) => s !== 'COMPLETED'), workers.map((w) => w.stderr()).join('\n')).toEqual([]);
    for (const runId of Object.keys(hit)) expect(statuses.get(runId), runId).toBe('COMPLETED');
    await checkExactlyOnce(runIds);
  }, 150_000);

  it('a nats-server restart mid-run loses and duplicates nothing; the run completes once the server is back', async () => {
    workers.push(await startWorkerProcess({ url: server.url, pass: server.users.orchestrator.pass, root, id: 'w4', leaseTtlMs: 2000, pollMs: 100 }));
    const runIds = ['restart_a', 'restart_b'];
    for (const runId of runIds) expect((await requestInit(nc, { workspace: 'lab', runId })).accepted).toBe(true);
    await new Promise((r) => setTimeout(r, 600));
    await server.restart();
    const statuses = await waitAllCompleted(runIds, 30_000);
    expect([...statuses.values()], workers.map((w) => w.stderr()).join('\n')).toEqual(['COMPLETED', 'COMPLETED']);
    await checkExactlyOnce(runIds);
  });
});
