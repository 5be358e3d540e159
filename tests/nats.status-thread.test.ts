import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requestCommand, requestInit } from '../distributed/command-client.ts';
import { runWorker, type WorkerHandle } from '../distributed/worker.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { GATE_CAMPAIGN, makeWorkspace } from './nats-fixtures/workspace.ts';

// A worker answers `status` from a thread of its own (distributed/status-thread.ts), so a reply
// does not wait for the event loop that steps the runs: here that loop (this test's, the worker
// runs in process) is blocked for 4 s while another process keeps asking.

const BLOCKED_MS = 4000;

let server: NatsServerHandle;
let worker: WorkerHandle;
let root: string;
let scientist: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  root = makeWorkspace(GATE_CAMPAIGN);
  worker = await runWorker({ natsUrl: server.url, ...server.users.orchestrator, root, leaseTtlMs: 5000, operators: { pollIntervalMs: 100 } });
  scientist = await connect({ servers: server.url, ...server.users.scientist });
});
afterAll(async () => {
  await scientist?.close();
  await worker?.stop();
  await server?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('the status thread', () => {
  it('answers status for a hosted run while the worker\'s event loop is blocked', async () => {
    // The worker starts its thread in the background and answers status itself until the thread is ready.
    expect(await worker.statusThreadReady()).toBe(true);
    expect((await requestInit(scientist, { workspace: 'lab', runId: 'r_busy' })).accepted).toBe(true);
    await vi.waitFor(async () => {
      const reply = await requestCommand(scientist, 'r_busy', 'status');
      const tasks = reply.accepted ? (reply.status?.tasks as { id: string; status: string }[]) : [];
      expect(tasks.find((t) => t.id === 'gate')?.status).toBe('WAITING_EXTERNAL');
    }, { timeout: 30_000, interval: 100 });

    const { user, pass } = server.users.scientist;
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'harness', 'status-asker-child.ts'), server.url, user, pass, 'r_busy', String(BLOCKED_MS + 1000)], {
      cwd: path.join(import.meta.dirname, '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await vi.waitFor(() => expect(out).toContain('asking'), { timeout: 30_000, interval: 20 });

    const until = Date.now() + BLOCKED_MS;
    while (Date.now() < until) {
      // Busy on purpose: the worker's loop (this one) answers nothing meanwhile.
    }

    expect(await exited).toBe(0);
    const replies = JSON.parse(out.split('\n')[1] ?? '[]') as { ms: number; status: string | null }[];
    expect(replies.length, 'replies while the loop was blocked').toBeGreaterThan(10);
    expect(replies.every((r) => r.status === 'RUNNING')).toBe(true);
    // Answered by the worker's loop, a request sent as the block began would wait for most of it.
    expect(Math.max(...replies.map((r) => r.ms))).toBeLessThan(BLOCKED_MS / 2);
  });

  it('gets every status request of a hosted run straight (its own subscription), even those the queue hands another member', async () => {
    expect(await worker.statusThreadReady()).toBe(true);
    if (!(await requestCommand(scientist, 'r_busy', 'status')).accepted) expect((await requestInit(scientist, { workspace: 'lab', runId: 'r_busy' })).accepted).toBe(true);
    // A member of the status queue group that never answers: without the run's own route, the requests the queue gives it go unanswered.
    const swallower = await connect({ servers: server.url, ...server.users.orchestrator });
    let swallowed = 0;
    swallower.subscribe('ms.as.*.cmd.*.status', { queue: 'matterstack-status', callback: () => {
      swallowed += 1;
    } });
    await swallower.flush();
    try {
      const replies = [];
      // A request that times out is what this test counts: unanswered (false).
      for (let i = 0; i < 20; i++) replies.push(await requestCommand(scientist, 'r_busy', 'status', {}, 3000).then((r) => r.accepted, () => false));
      expect(swallowed, 'the queue gave the silent member some requests').toBeGreaterThan(0);
      expect(replies.filter((answered) => !answered).length).toBe(0);
    } finally {
      await swallower.close();
    }
  });
});
