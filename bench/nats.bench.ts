// NATS benchmark (npx tsx bench/nats.bench.ts): command round-trip latency over 10,000 `status`
// requests to a worker. The end-to-end workloads on the JetStream log, next to the embedded log,
// are in bench/workloads.ts.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { requestCommand, requestInit } from '../distributed/command-client.ts';
import { runWorker } from '../distributed/worker.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';

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
    console.log(`\ncommand round-trip (ms.as.<user>.cmd.<run>.status, ${requests} sequential requests, 1 worker)`);
    console.log(`  p50 ${percentile(times, 50).toFixed(3)} ms   p99 ${percentile(times, 99).toFixed(3)} ms   max ${(times[times.length - 1] ?? 0).toFixed(3)} ms   ${(requests / total).toFixed(0)} req/s`);
  } finally {
    await nc.close();
    await worker.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

/** Runs the command round-trip benchmark against a private nats-server and prints its figures. */
export async function main(): Promise<void> {
  const server = await startNatsServer();
  try {
    await statusLatency(server, 10_000);
  } finally {
    await server.stop();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
