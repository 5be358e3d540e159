import fs from 'node:fs';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requestCommand } from '../distributed/command-client.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { readProcStat } from '../operators/process-group.ts';
import { countingCampaign, makeWorkspace } from './nats-fixtures/workspace.ts';
import { startWorkerProcess, type WorkerProcess } from './nats-fixtures/worker-process.ts';

/** Nice value of each thread of process `pid`, by thread id (a thread that ended while the list was read is left out). */
function threadNices(pid: number): Map<number, number> {
  const nices = new Map<number, number>();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`).map(Number)) {
    const nice = readProcStat(pid, tid)?.nice;
    if (nice !== undefined) nices.set(tid, nice);
  }
  return nices;
}

let server: NatsServerHandle;
let root: string;
let counterDir: string;
let nc: NatsConnection;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  server = await startNatsServer();
  counterDir = fs.mkdtempSync(`${server.storeDir}-nice-`);
  root = makeWorkspace(countingCampaign(counterDir, 1, 0));
  nc = await connect({ servers: server.url, ...server.users.orchestrator });
}, 60_000);
afterAll(async () => {
  // Cleanup only: a worker that never started has nothing to stop.
  await worker?.stop().catch(() => undefined);
  await nc?.close();
  await server?.stop();
  for (const dir of [root, counterDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!fs.existsSync('/proc/self/task'))('a worker steps its runs below its status thread (--nice)', () => {
  it('moves its main thread to the nice value given once the status thread answers, and leaves the status thread where it was', async () => {
    const started = await startWorkerProcess({ url: server.url, pass: server.users.orchestrator.pass, root, id: 'nice_w1', leaseTtlMs: 3000, pollMs: 100, args: ['--nice', '7'] });
    worker = started;
    const pid = started.child.pid as number;
    const before = threadNices(pid);
    await vi.waitFor(() => expect(threadNices(pid).get(pid), started.stderr().slice(-2000)).toBe(7), { timeout: 30_000, interval: 50 });
    // Threads started before the move (the status thread among them) keep nice 0.
    const unchanged = [...threadNices(pid)].filter(([tid, nice]) => tid !== pid && before.has(tid) && nice === 0);
    expect(unchanged.length).toBeGreaterThan(0);
    const reply = await requestCommand(nc, 'nobody_here', 'status', {}, 10_000);
    expect(reply.accepted ? 'accepted' : reply.error.code).toBe('RUN_NOT_FOUND');
  });
});
