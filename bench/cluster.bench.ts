// Cluster benchmark (npm run bench -- cluster): 100 runs × 100 instant tasks on 1, 2 and 3 workers
// against a fresh three-node JetStream cluster each time: tasks per second from the first init to
// the last run COMPLETED, and the command round trip (`status`, p50 and p99) sampled during that
// load. The workers run in this process with an operator that completes every attempt at once,
// so the figures are the orchestration's own cost (log appends, leases, commands), not the tasks'.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { requestCommand, requestInit } from '../distributed/command-client.ts';
import { runWorker, type WorkerHandle } from '../distributed/worker.ts';
import { InstantOperator } from '../harness/instant-operator.ts';
import { startNatsCluster } from '../harness/nats-cluster.ts';

const RUNS = Number(process.env.BENCH_CLUSTER_RUNS ?? 100);
const TASKS = Number(process.env.BENCH_CLUSTER_TASKS ?? 100);
/** A measurement stops here and reports what was done by then (a stuck run must not hang the bench). */
const DEADLINE_S = Number(process.env.BENCH_CLUSTER_DEADLINE_S ?? 600);
/** Inits in flight at once: a hundred at once on a busy worker waited past any sensible timeout. */
const INIT_BATCH = 10;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function workspaceRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'ms-cluster-bench-'));
  mkdirSync(join(root, 'lab'), { recursive: true });
  writeFileSync(
    join(root, 'lab', 'campaign.mjs'),
    `export function plan(s) { return s === null ? { tasks: Array.from({ length: ${TASKS} }, (_, i) => ({ id: 't' + i, command: 'true' })) } : null; }\nexport function analyze() { return {}; }\n`,
  );
  return root;
}

/** The run's status and how many of its tasks are completed (undefined when unanswered). */
async function progressOf(nc: NatsConnection, runId: string): Promise<{ status: string; completed: number } | undefined> {
  // An unanswered status under load is counted as "no progress seen" (the caller asks again), not an error of the bench.
  const reply = await requestCommand(nc, runId, 'status', {}, 30_000).catch(() => undefined);
  if (!reply?.accepted) return undefined;
  const counts = (reply.status?.counts ?? {}) as Record<string, number>;
  return { status: String(reply.status?.status), completed: counts.COMPLETED ?? 0 };
}

/** Creates the run, asking again (same command id: created once) when no worker answered in time. */
async function init(nc: NatsConnection, runId: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const reply = await requestInit(nc, { workspace: 'lab', runId, commandId: `bench-init-${runId}` }, 60_000);
      if (!reply.accepted) throw new Error(`init of ${runId} refused: ${JSON.stringify(reply)}`);
      return;
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

/** One measurement: `workers` workers, RUNS × TASKS, on a fresh cluster. */
async function measure(workerCount: number): Promise<void> {
  const cluster = await startNatsCluster();
  const root = workspaceRoot();
  const workers: WorkerHandle[] = [];
  const nc = await connect({ servers: cluster.urls, ...cluster.users.orchestrator });
  try {
    // JetStream answers once the three servers have elected a meta leader (jetstreamManager asks it at once).
    for (let i = 0; ; i++) {
      try {
        await jetstreamManager(nc);
        break;
      } catch (error) {
        if (i > 200) throw error;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    const operators = { factories: { local: () => new InstantOperator() } };
    for (let i = 0; i < workerCount; i++) workers.push(await runWorker({ natsUrl: cluster.urls, ...cluster.users.orchestrator, root, workerId: `bench${i}`, operators }));
    const runIds = Array.from({ length: RUNS }, (_, i) => `bench_${i}`);
    const start = performance.now();
    for (let i = 0; i < runIds.length; i += INIT_BATCH) await Promise.all(runIds.slice(i, i + INIT_BATCH).map((runId) => init(nc, runId)));
    // The command round trip while the runs go on: one status request after another.
    const times: number[] = [];
    let loaded = true;
    const sampler = (async () => {
      while (loaded) {
        const t0 = performance.now();
        // The round trip is what is measured: a request that fails still took this long.
        await requestCommand(nc, runIds[0] as string, 'status', {}, 30_000).catch(() => undefined);
        times.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const pending = new Set(runIds);
    const completedTasks = new Map<string, number>();
    while (pending.size > 0 && performance.now() - start < DEADLINE_S * 1000) {
      await new Promise((r) => setTimeout(r, 500));
      for (const runId of [...pending]) {
        const progress = await progressOf(nc, runId);
        if (progress === undefined) continue;
        completedTasks.set(runId, progress.completed);
        if (progress.status === 'COMPLETED') pending.delete(runId);
      }
    }
    const seconds = (performance.now() - start) / 1000;
    const tasksDone = [...completedTasks.values()].reduce((a, b) => a + b, 0);
    loaded = false;
    await sampler;
    times.sort((a, b) => a - b);
    const hosted = workers.map((w) => w.hostedRuns().length).join('/');
    console.log(
      `  ${workerCount} worker(s): ${RUNS - pending.size} of ${RUNS} runs, ${tasksDone} of ${RUNS * TASKS} tasks in ${seconds.toFixed(1)} s = ${(tasksDone / seconds).toFixed(0)} tasks/s` +
        `${pending.size > 0 ? ` (stopped at the ${DEADLINE_S} s deadline)` : ''};` +
        ` status round trip under load p50 ${percentile(times, 50).toFixed(1)} ms, p99 ${percentile(times, 99).toFixed(1)} ms (${times.length} requests); runs still hosted ${hosted}`,
    );
  } finally {
    // Cleanup after the figures are printed: a worker that cannot stop cleanly dies with the bench process.
    for (const w of workers) await w.stop().catch(() => undefined);
    await nc.close();
    await cluster.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

/** Runs the cluster benchmark on 1, 2 and 3 workers and prints one line each. */
export async function main(): Promise<void> {
  console.log(`three-node JetStream cluster (replicas 3), ${RUNS} runs × ${TASKS} instant tasks, workers in this process:`);
  for (const workers of [1, 2, 3]) await measure(workers);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
