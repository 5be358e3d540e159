import fs from 'node:fs';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requestInit } from '../distributed/command-client.ts';
import { runWorker, type WorkerHandle } from '../distributed/worker.ts';
import { fairShare } from '../distributed/spread-policy.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { GATE_CAMPAIGN, makeWorkspace } from './nats-fixtures/workspace.ts';

// Enough runs that the queue group's random choice alone breaks the bound most of the time.
const RUNS = 24;
const LEASE_TTL_MS = 3000;

let server: NatsServerHandle;
let root: string;
let nc: NatsConnection;
const workers: WorkerHandle[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  // Gated runs stay active (each waits for an approval), so every run keeps needing a host.
  root = makeWorkspace(GATE_CAMPAIGN, 'ms-spread-');
  nc = await connect({ servers: server.url, ...server.users.orchestrator });
});
afterAll(async () => {
  // Cleanup only: a worker that never started or has stopped already has nothing left to stop.
  for (const worker of workers) await worker.stop().catch(() => undefined);
  await nc?.close();
  await server?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

const hosted = (): number[] => workers.map((w) => w.hostedRuns().length);
const total = (): number => hosted().reduce((a, b) => a + b, 0);

describe('runs are spread over the workers', { timeout: 180_000 }, () => {
  it('no worker hosts more than ceil(runs/workers) + 1, for new runs and for the runs of a worker that drained', async () => {
    for (const workerId of ['w1', 'w2', 'w3']) {
      workers.push(await runWorker({ natsUrl: server.url, ...server.users.orchestrator, root, workerId, leaseTtlMs: LEASE_TTL_MS }));
    }
    const runIds = Array.from({ length: RUNS }, (_, i) => `spread_${String(i).padStart(2, '0')}`);
    // Sent one after another to the queue group: whichever worker gets an init, the runs end up spread.
    for (const runId of runIds) {
      const reply = await requestInit(nc, { workspace: 'lab', runId, commandId: `init-${runId}` });
      expect(reply.accepted, JSON.stringify(reply)).toBe(true);
    }
    await vi.waitFor(() => expect(total()).toBe(RUNS), { timeout: 60_000, interval: 250 });
    expect(Math.max(...hosted()), String(hosted())).toBeLessThanOrEqual(fairShare(RUNS, 3) + 1);

    // One drains: the two left take its runs over, each up to its share of the runs among two.
    const drained = workers.pop();
    await drained?.stop();
    await vi.waitFor(() => expect(total()).toBe(RUNS), { timeout: 60_000, interval: 250 });
    expect(Math.max(...hosted()), String(hosted())).toBeLessThanOrEqual(fairShare(RUNS, 2) + 1);
  });
});
