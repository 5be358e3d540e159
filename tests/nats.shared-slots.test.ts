import fs from 'node:fs';
import path from 'node:path';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requestCommand, requestInit } from '../distributed/command-client.ts';
import { SLOTS_BUCKET } from '../distributed/kv-slot-store.ts';
import { storeKey } from '../host/shared-slots.ts';
import { SlotDocSchema, type SlotDoc } from '../host/slot-semaphore.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { cappedOperators, markingCampaign, maxOverlap, readMarks } from './harness/task-marks.ts';
import { makeWorkspace } from './nats-fixtures/workspace.ts';
import { startWorkerProcess, type WorkerProcess } from './nats-fixtures/worker-process.ts';

const RUNS = 10;
const TASKS = 20;
const CAP = 4;
const LEASE_TTL_MS = 4000;
/** A worker's slot lease: 3 × its run lease TTL. */
const SLOT_LEASE_MS = 3 * LEASE_TTL_MS;

let server: NatsServerHandle;
let root: string;
let marksDir: string;
let nc: NatsConnection;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  marksDir = fs.mkdtempSync(path.join(server.storeDir, '..', 'ms-marks-'));
  root = makeWorkspace(markingCampaign(marksDir, TASKS, 0.3));
  fs.writeFileSync(path.join(root, 'lab', 'operators.yaml'), cappedOperators(CAP));
  nc = await connect({ servers: server.url, ...server.users.orchestrator });
}, 60_000);
afterAll(async () => {
  // Cleanup only: a worker that never started or has stopped already has nothing left to stop.
  for (const w of workers) await w.stop().catch(() => undefined);
  await nc?.close();
  await server?.stop();
  for (const dir of [root, marksDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function slotDoc(): Promise<SlotDoc> {
  const kv = await new Kvm(nc).open(SLOTS_BUCKET);
  const entry = await kv.get(storeKey('local.default'));
  if (entry === null || entry.value.length === 0) return { holders: {}, waiters: {}, lastGrant: {} };
  return SlotDocSchema.parse(JSON.parse(new TextDecoder().decode(entry.value)));
}

async function statusOf(runId: string): Promise<string | undefined> {
  // A status request that times out counts as no answer yet: the caller waits on or reports the run as unknown.
  const reply = await requestCommand(nc, runId, 'status', {}, 10_000).catch(() => undefined);
  return reply?.accepted ? String(reply.status?.status) : undefined;
}

describe('operator caps shared by every run on every worker (JetStream KV semaphore)', () => {
  it(`three workers, ${RUNS} runs × ${TASKS} tasks, operator cap ${CAP}: never more than ${CAP} at once; a worker killed holding slots gives them back`, async () => {
    const pass = server.users.orchestrator.pass;
    for (const id of ['w1', 'w2', 'w3']) workers.push(await startWorkerProcess({ url: server.url, pass, root, id, leaseTtlMs: LEASE_TTL_MS, pollMs: 100 }));
    const runIds = Array.from({ length: RUNS }, (_, i) => `caps_${String(i).padStart(2, '0')}`);
    const inits = await Promise.all(runIds.map((runId) => requestInit(nc, { workspace: 'lab', runId, commandId: `init-${runId}` })));
    expect(inits.flatMap((r) => (r.accepted ? [] : [`${r.error.code}: ${r.error.message}`])).join('; ')).toBe('');

    // Several runs wait for slots while w1 holds some.
    await vi.waitFor(async () => {
      const doc = await slotDoc();
      expect(Object.values(doc.holders).some((h) => h.holder === 'w1')).toBe(true);
      expect(new Set(Object.values(doc.waiters).map((w) => w.runId)).size).toBeGreaterThan(1);
    }, { timeout: 60_000, interval: 50 });
    await workers[0]!.kill();
    const killedAt = Date.now();
    // The dead worker's slots come back within the slot lease: expired, or adopted by whoever took its runs over.
    await vi.waitFor(async () => {
      const doc = await slotDoc();
      expect(Object.values(doc.holders).filter((h) => h.holder === 'w1')).toEqual([]);
    }, { timeout: SLOT_LEASE_MS + 5000, interval: 100 });
    expect(Date.now() - killedAt).toBeLessThan(SLOT_LEASE_MS + 5000);

    await vi.waitFor(async () => {
      const statuses = await Promise.all(runIds.map(statusOf));
      const stuck = runIds.filter((_, i) => statuses[i] !== 'COMPLETED');
      const detail = await Promise.all(stuck.map(async (runId) => {
        // A status request that times out counts as no answer yet: the caller waits on or reports the run as unknown.
        const reply = await requestCommand(nc, runId, 'status', {}, 10_000).catch(() => undefined);
        const tasks = reply?.accepted ? ((reply.status?.tasks ?? []) as { id: string; status: string; currentAttemptId: string }[]) : [];
        return { runId, tasks: tasks.filter((t) => t.status !== 'COMPLETED').map((t) => `${t.id} ${t.status} ${t.currentAttemptId}`) };
      }));
      const lines = workers.flatMap((w) => w.stderr().split('\n')).filter((l) => stuck.some((runId) => l.includes(runId))).slice(-30);
      expect(stuck, JSON.stringify({ detail, slots: await slotDoc() }).slice(0, 3000) + '\n' + lines.join('\n')).toEqual([]);
    }, { timeout: 120_000, interval: 500 });

    const marks = readMarks(marksDir);
    expect(marks).toHaveLength(RUNS * TASKS);
    // Every task ran once, to its end; and never more than the cap at once, across all runs and workers.
    expect(marks.filter((m) => m.starts.length !== 1 || m.ends.length !== 1).map((m) => m.file)).toEqual([]);
    expect(maxOverlap(marks)).toBeLessThanOrEqual(CAP);
    // The cap was used (the runs did share it), and nothing is held once they are done.
    expect(maxOverlap(marks)).toBeGreaterThanOrEqual(2);
    expect(Object.keys((await slotDoc()).holders)).toEqual([]);
  }, 300_000);
});
