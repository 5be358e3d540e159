import fs from 'node:fs';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requestCommand, requestInit } from '../distributed/command-client.ts';
import { runWorker, type WorkerHandle } from '../distributed/worker.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { globalCapOperators, markingCampaign, maxOverlap, readMarks } from './harness/task-marks.ts';
import { makeWorkspace } from './nats-fixtures/workspace.ts';

const RUNS = 4;
const TASKS = 4;
const CAP = 2;

let server: NatsServerHandle;
let root: string;
let marksDir: string;
let nc: NatsConnection;
const workers: WorkerHandle[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  marksDir = fs.mkdtempSync(path.join(server.storeDir, '..', 'ms-global-marks-'));
  root = makeWorkspace(markingCampaign(marksDir, TASKS, 0.5), 'ms-global-cap-');
  fs.writeFileSync(path.join(root, 'lab', 'operators.yaml'), globalCapOperators(CAP));
  nc = await connect({ servers: server.url, ...server.users.orchestrator });
}, 60_000);
afterAll(async () => {
  // Cleanup only: a worker that never started or has stopped already has nothing left to stop.
  for (const worker of workers) await worker.stop().catch(() => undefined);
  await nc?.close();
  await server?.stop();
  for (const dir of [root, marksDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('the global cap shared by every run on every worker (JetStream KV)', { timeout: 240_000 }, () => {
  it(`two workers, ${RUNS} runs × ${TASKS} tasks, max_concurrent_global ${CAP} in operators.yaml: never more than ${CAP} task processes at once`, async () => {
    for (const workerId of ['g1', 'g2']) workers.push(await runWorker({ natsUrl: server.url, ...server.users.orchestrator, root, workerId, leaseTtlMs: 3000 }));
    const runIds = Array.from({ length: RUNS }, (_, i) => `global_${i}`);
    for (const runId of runIds) expect((await requestInit(nc, { workspace: 'lab', runId, commandId: `init-${runId}` })).accepted).toBe(true);
    // Each run alone may run CAP at once: the runs on both workers together stay within CAP only if the cap is shared.
    expect(workers.every((w) => w.hostedRuns().length > 0), String(workers.map((w) => w.hostedRuns().length))).toBe(true);
    await vi.waitFor(async () => {
      const statuses = await Promise.all(runIds.map(async (runId) => {
        // A status request that times out counts as no answer yet: the caller waits on or reports the run as unknown.
        const reply = await requestCommand(nc, runId, 'status', {}, 10_000).catch(() => undefined);
        return reply?.accepted ? String(reply.status?.status) : undefined;
      }));
      expect(statuses.filter((s) => s !== 'COMPLETED')).toEqual([]);
    }, { timeout: 180_000, interval: 500 });
    const marks = readMarks(marksDir);
    expect(marks).toHaveLength(RUNS * TASKS);
    expect(marks.filter((m) => m.starts.length !== 1 || m.ends.length !== 1).map((m) => m.file)).toEqual([]);
    expect(maxOverlap(marks), JSON.stringify(marks)).toBeLessThanOrEqual(CAP);
  });
});
