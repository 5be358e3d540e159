// NATS benchmarks (npx tsx bench/nats.bench.ts): command round-trip latency over 10,000 `status`
// requests to a worker, and the end-to-end time of fanout-1000 on JetStream next to the
// embedded log (in-process operator completing right after submit: InstantOperator).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { connect } from '@nats-io/transport-node';
import type { Campaign } from '../actors/campaign/campaign.ts';
import { requestCommand, requestInit } from '../actors/nats/command-client.ts';
import { runWorker } from '../actors/nats/worker.ts';
import { initializeRun, runUntilCompletion } from '../actors/run-lifecycle.ts';
import { RunStore } from '../actors/run-store.ts';
import type { EventLog } from '../events/event-log.ts';
import { JetStreamEventLog } from '../events/jetstream-event-log.ts';
import { SqliteEventLog } from '../events/sqlite-event-log.ts';
import { startNatsServer, type NatsServerHandle } from '../tests/harness/nats-server.ts';
import { InstantOperator } from './workloads.ts';

function workspaceRoot(campaignSource: string): string {
  const root = mkdtempSync(join(tmpdir(), 'ms-nats-bench-'));
  mkdirSync(join(root, 'lab'), { recursive: true });
  writeFileSync(join(root, 'lab', 'campaign.mjs'), campaignSource);
  return root;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function statusLatency(server: NatsServerHandle, requests: number): Promise<void> {
  const root = workspaceRoot(`export function plan(s) { return s === null ? { tasks: [{ id: 'gate', kind: 'gate', message: 'wait' }] } : null; }
export function analyze() { return {}; }\n`);
  const worker = await runWorker({ natsUrl: server.url, ...server.users.orchestrator, root, leaseTtlMs: 5000 });
  const nc = await connect({ servers: server.url, ...server.users.scientist });
  try {
    const init = await requestInit(nc, { workspace: 'lab', runId: 'bench_status' });
    if (!init.accepted) throw new Error(JSON.stringify(init));
    for (let i = 0; i < 200; i++) await requestCommand(nc, 'bench_status', 'status'); // warm-up
    const times: number[] = [];
    const start = performance.now();
    for (let i = 0; i < requests; i++) {
      const t0 = performance.now();
      const reply = await requestCommand(nc, 'bench_status', 'status');
      times.push(performance.now() - t0);
      if (!reply.accepted) throw new Error(JSON.stringify(reply));
    }
    const total = (performance.now() - start) / 1000;
    times.sort((a, b) => a - b);
    console.log(`\ncommand round-trip (ms.cmd.<run>.status, ${requests} sequential requests, 1 worker)`);
    console.log(`  p50 ${percentile(times, 50).toFixed(3)} ms   p99 ${percentile(times, 99).toFixed(3)} ms   max ${(times[times.length - 1] ?? 0).toFixed(3)} ms   ${(requests / total).toFixed(0)} req/s`);
  } finally {
    await nc.close();
    await worker.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

async function fanout(name: string, tasks: number, makeLog: () => Promise<EventLog>, natsUrl?: string): Promise<number> {
  const root = workspaceRoot('export function plan() { return null; }\nexport function analyze() { return null; }\n');
  const log = await makeLog();
  const store = await RunStore.open({ root, log, ...(natsUrl ? { natsUrl } : {}) });
  const campaign: Campaign = {
    plan: (state) => (state === null ? { tasks: Array.from({ length: tasks }, (_, i) => ({ id: `t${i}`, command: 'true' })) } : null),
    analyze: () => ({ done: true }),
  };
  try {
    const start = performance.now();
    const run = await initializeRun({ store, workspace: 'lab', runId: `bench_${name}`, campaign, maxConcurrent: null });
    const status = await runUntilCompletion(run, { campaign, registry: { factories: { local: () => new InstantOperator() } } });
    const seconds = (performance.now() - start) / 1000;
    if (status !== 'COMPLETED') throw new Error(`${name}: ${status}`);
    return seconds;
  } finally {
    await store.close();
    await log.close();
    rmSync(root, { recursive: true, force: true });
  }
}

/** Runs both NATS benchmarks against a private nats-server and prints their figures. */
export async function main(): Promise<void> {
  const server = await startNatsServer();
  try {
    await statusLatency(server, 10_000);
    const tasks = 1000;
    const embedded = await fanout('sqlite', tasks, async () => SqliteEventLog.open(join(mkdtempSync(join(tmpdir(), 'ms-bench-log-')), 'events.sqlite')));
    const js = await fanout('jetstream', tasks, () => JetStreamEventLog.connect({ servers: server.url, ...server.users.orchestrator }), server.url);
    console.log(`\nfanout-${tasks} end to end (init → COMPLETED, instant in-process operator)`);
    console.log(`  embedded SQLite log  ${embedded.toFixed(2)} s`);
    console.log(`  NATS JetStream log   ${js.toFixed(2)} s   (${(js / embedded).toFixed(2)}× the embedded log)`);
  } finally {
    await server.stop();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
