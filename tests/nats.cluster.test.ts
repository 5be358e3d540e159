import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requestCommand, requestInit } from '../distributed/command-client.ts';
import { JetStreamEventLog } from '../storage/jetstream-event-log.ts';
import { verifyReplay } from '../views/replay-run.ts';
import { startNatsCluster, type NatsClusterHandle } from '../harness/nats-cluster.ts';
import { countingCampaign, makeWorkspace } from './nats-fixtures/workspace.ts';
import { startWorkerProcess, type WorkerProcess } from './nats-fixtures/worker-process.ts';
import { readRunRecords } from './harness/read-run.ts';

const RUNS = 30;
const TASKS = 3;

let cluster: NatsClusterHandle;
let root: string;
let counterDir: string;
let nc: NatsConnection;
let log: JetStreamEventLog;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  cluster = await startNatsCluster();
  counterDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-cluster-counters-'));
  root = makeWorkspace(countingCampaign(counterDir, TASKS, 0.2));
  nc = await connect({ servers: cluster.urls, ...cluster.users.orchestrator, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  // JetStream answers once the three servers have elected a meta leader.
  await vi.waitFor(() => jetstreamManager(nc), { timeout: 60_000, interval: 250 });
}, 120_000);
afterAll(async () => {
  // Cleanup only: a worker that never started or has stopped already has nothing left to stop.
  for (const w of workers) await w.stop().catch(() => undefined);
  await log?.close();
  await nc?.close();
  await cluster?.stop();
  for (const dir of [root, counterDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function statuses(runIds: string[]): Promise<(string | undefined)[]> {
  return Promise.all(runIds.map(async (runId) => {
    // A status request that times out counts as no answer yet: the caller waits on or reports the run as unknown.
    const reply = await requestCommand(nc, runId, 'status', {}, 10_000).catch(() => undefined);
    return reply?.accepted ? String(reply.status?.status) : undefined;
  }));
}

describe('three workers on a three-node JetStream cluster', () => {
  it(`${RUNS} runs survive kill -9 of the stream leader, its restart and a rolling restart of all three servers`, async () => {
    const url = cluster.urls.join(',');
    const pass = cluster.users.orchestrator.pass;
    for (const id of ['w1', 'w2', 'w3']) workers.push(await startWorkerProcess({ url, pass, root, id, leaseTtlMs: 10_000, pollMs: 100 }));
    const jsm = await jetstreamManager(nc);
    const stream = await jsm.streams.info('MS_EVENTS');
    // As many replicas as the cluster has servers.
    expect(stream.config.num_replicas).toBe(3);
    log = await JetStreamEventLog.open(nc);

    const runIds = Array.from({ length: RUNS }, (_, i) => `cl_${String(i).padStart(2, '0')}`);
    const inits = await Promise.all(runIds.map((runId) => requestInit(nc, { workspace: 'lab', runId, commandId: `init-${runId}` }, 120_000)));
    expect(inits.flatMap((r) => (r.accepted ? [] : [`${r.error.code}: ${r.error.message}`])).join('; ')).toBe('');

    // Mid-run: some tasks have run, most have not.
    await vi.waitFor(() => expect(fs.readdirSync(counterDir).length).toBeGreaterThan(5), { timeout: 60_000, interval: 100 });
    const leaderName = (await jsm.streams.info('MS_EVENTS')).cluster?.leader;
    const leader = cluster.nodes.find((n) => n.name === leaderName);
    expect(leader, `stream leader ${leaderName}`).toBeDefined();
    await leader!.kill();
    const before = fs.readdirSync(counterDir).length;
    // The runs go on without it.
    await vi.waitFor(() => expect(fs.readdirSync(counterDir).length).toBeGreaterThan(before + 5), { timeout: 90_000, interval: 200 });
    await leader!.start();

    // A rolling restart: one server at a time, each back before the next goes.
    for (const node of cluster.nodes) {
      await node.restart();
      await vi.waitFor(async () => {
        const info = await jsm.streams.info('MS_EVENTS');
        expect((info.cluster?.replicas ?? []).every((r) => r.current)).toBe(true);
      }, { timeout: 60_000, interval: 250 });
    }

    await vi.waitFor(async () => {
      const now = await statuses(runIds);
      expect(runIds.filter((_, i) => now[i] !== 'COMPLETED'), workers.map((w) => w.stderr().slice(-1500)).join('\n')).toEqual([]);
    }, { timeout: 240_000, interval: 1000 });

    for (const runId of runIds) {
      const events = await readRunRecords(log, runId);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
      const verified = await verifyReplay(log, runId);
      expect(verified.ok, `${runId}: ${JSON.stringify(verified)}`).toBe(true);
      for (let i = 0; i < TASKS; i++) {
        const lines = fs.readFileSync(path.join(counterDir, `${runId}.t${i}`), 'utf8').trim().split('\n');
        expect(lines, `${runId} t${i}`).toEqual([`t${i}-a1`]);
      }
    }
  }, 600_000);
});
