import fs from 'node:fs';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requestCommand, requestInit } from '../distributed/command-client.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { makeWorkspace } from './nats-fixtures/workspace.ts';
import { startWorkerProcess, type WorkerProcess } from './nats-fixtures/worker-process.ts';

// One worker process hosts a run whose campaign spins for ever; it must still answer `init` and
// drive another run to the end (campaign code runs in a worker thread, not on the host's loop).

let server: NatsServerHandle;
let root: string;
let nc: NatsConnection;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  server = await startNatsServer();
  root = makeWorkspace(`export const plan = (s) => s === null ? { tasks: [{ id: 'a', command: 'true' }] } : null; export const analyze = () => 1;`);
  const hang = path.join(root, 'hang');
  fs.mkdirSync(hang);
  fs.writeFileSync(
    path.join(hang, 'campaign.mjs'),
    `import fs from 'node:fs';
export const plan = (s) => { if (s === null) return { tasks: [{ id: 'a', command: 'true' }] }; fs.writeFileSync(${JSON.stringify(path.join(root, 'spinning'))}, 'yes'); for (;;) {} };
export const analyze = () => 1;`,
  );
  nc = await connect({ servers: server.url, ...server.users.orchestrator });
});
afterAll(async () => {
  // Cleanup only: a worker that never started or has stopped already has nothing left to stop.
  await worker?.stop().catch(() => undefined);
  await nc?.close();
  await server?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('a hung campaign on a NATS worker', () => {
  it('init still answers and another run completes on the same worker', async () => {
    worker = await startWorkerProcess({ url: server.url, pass: server.users.orchestrator.pass, root, id: 'w1', leaseTtlMs: 2000, pollMs: 100 });
    expect((await requestInit(nc, { workspace: 'hang', runId: 'hung_run' })).accepted).toBe(true);
    await vi.waitFor(() => expect(fs.existsSync(path.join(root, 'spinning')), 'the campaign to spin').toBe(true), { timeout: 30_000 });
    const init = await requestInit(nc, { workspace: 'lab', runId: 'fine_run' }, 20_000);
    expect(init.accepted, worker.stderr()).toBe(true);
    await vi.waitFor(async () => {
      const reply = await requestCommand(nc, 'fine_run', 'status', {}, 10_000);
      expect(reply.accepted && reply.status?.status).toBe('COMPLETED');
    }, { timeout: 30_000 });
    const hung = await requestCommand(nc, 'hung_run', 'status', {}, 10_000);
    expect(hung.accepted && hung.status?.status).toBe('RUNNING');
  });
});
