// Cluster benchmark (npm run bench -- cluster): 100 runs × 100 instant tasks on 1, 2 and 3 workers
// against a fresh three-node JetStream cluster each time. Each worker is its own OS process
// (bench/cluster-worker.ts) whose operator completes every attempt at once, so the figures are the
// orchestration's own cost (log appends, leases, commands), not the tasks'. Printed: tasks per second
// from the first init to the last run COMPLETED (progress read from the stream, not asked of the
// workers), the `status` round trip sampled during that load (p50, p99; goal p99 <= 20 ms), the
// runs each worker hosted at most, the workers' CPU per task and what a task costs in the stream.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { requestCommand, requestInit } from '../distributed/command-client.ts';
import { startNatsCluster, type NatsClusterHandle } from '../harness/nats-cluster.ts';
import { startBenchWorker, type BenchWorker } from './cluster-processes.ts';
import { StreamProgress } from './cluster-progress.ts';

const RUNS = Number(process.env.BENCH_CLUSTER_RUNS ?? 100);
const TASKS = Number(process.env.BENCH_CLUSTER_TASKS ?? 100);
/** A measurement stops here and reports FAILED with what was done by then (a stuck run must not hang the bench). */
const DEADLINE_S = Number(process.env.BENCH_CLUSTER_DEADLINE_S ?? 600);
/** Inits in flight at once: a hundred at once on a busy worker waited past any sensible timeout. */
const INIT_BATCH = 10;
/** The round-trip goal of issue #19. */
const GOAL_P99_MS = 20;
const STREAM = 'MS_EVENTS';
/** Worker counts measured (BENCH_CLUSTER_WORKERS=3 measures only three). */
const COUNTS = (process.env.BENCH_CLUSTER_WORKERS ?? '1,2,3').split(',').map(Number);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function workspaceRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'ms-cluster-bench-'));
  mkdirSync(join(root, 'lab'), { recursive: true });
  writeFileSync(
    join(root, 'lab', 'campaign.mjs'),
    `export function plan(s) { return s === null ? { tasks: Array.from({ length: ${TASKS} }, (_, i) => ({ id: 't' + i, command: 'true' })) } : null; }\nexport function analyze() { return {}; }\n`,
  );
  return root;
}

/** Resolves once `check` succeeds, retrying every 250 ms; throws its last error after `timeoutMs`. */
async function until<T>(what: string, timeoutMs: number, check: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what} not within ${timeoutMs / 1000} s: ${String(error)}`);
      await sleep(250);
    }
  }
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

/** One measurement: `count` worker processes, RUNS × TASKS, on `cluster`. Throws (with the reason) when it fails. */
async function measure(cluster: NatsClusterHandle, root: string, count: number, workers: BenchWorker[]): Promise<string> {
  const nc = await connect({ servers: cluster.urls, ...cluster.users.orchestrator });
  let progress: StreamProgress | undefined;
  try {
    // JetStream's API answers once the three servers have a meta leader.
    const jsm: JetStreamManager = await until('a JetStream meta leader', 60_000, async () => {
      const manager = await jetstreamManager(nc);
      await manager.getAccountInfo();
      return manager;
    });
    const { user, pass } = cluster.users.orchestrator;
    for (let i = 0; i < count; i++) workers.push(await startBenchWorker({ urls: cluster.urls, user, pass, root, workerId: `bench${i}` }));
    // The first worker created the stream; its leader must answer before anything is timed.
    await until(`stream ${STREAM}`, 60_000, () => jsm.streams.info(STREAM));
    progress = await StreamProgress.start(nc, STREAM);
    const cpuBefore = await Promise.all(workers.map((w) => w.stats()));
    for (const w of workers) w.measure();
    const runIds = Array.from({ length: RUNS }, (_, i) => `bench_${i}`);
    const peakHosted = workers.map(() => 0);
    const peakRssMb = workers.map(() => 0);
    const start = performance.now();
    const deadline = start + DEADLINE_S * 1000;
    let loaded = true;
    // The command round trip while the runs go on: one `status` after another, to a run created and still going.
    const created: string[] = [];
    const times: number[] = [];
    let unanswered = 0;
    const sampler = (async () => {
      for (let i = 0; loaded; i++) {
        const going = created.filter((id) => !progress?.runsDone.has(id));
        const runId = going[i % Math.max(1, going.length)];
        if (runId === undefined) {
          await sleep(20);
          continue;
        }
        const t0 = performance.now();
        // A request that times out or fails is counted below as unanswered, not as a round trip.
        const reply = await requestCommand(nc, runId, 'status', {}, 5_000).catch(() => undefined);
        if (reply?.accepted) times.push(performance.now() - t0);
        else unanswered += 1;
        await sleep(20);
      }
    })();
    const watcher = (async () => {
      while (loaded) {
        // A worker that does not answer (exiting, or busy past the IPC wait) adds nothing to the peaks this round.
        const stats = await Promise.all(workers.map((w) => w.stats().catch(() => undefined)));
        stats.forEach((s, i) => {
          peakHosted[i] = Math.max(peakHosted[i] ?? 0, s?.hosted ?? 0);
          peakRssMb[i] = Math.max(peakRssMb[i] ?? 0, s?.rssMb ?? 0);
        });
        await sleep(1000);
      }
    })();
    let failure: string | undefined;
    // The deadline bounds the inits too: one stuck init (three tries of 60 s) must not hold the bench past it.
    const runs = (async () => {
      for (let i = 0; i < runIds.length && performance.now() < deadline; i += INIT_BATCH) {
        const batch = runIds.slice(i, i + INIT_BATCH);
        await Promise.all(batch.map((runId) => init(nc, runId).then(() => created.push(runId))));
      }
      while (progress?.runsDone.size !== RUNS && performance.now() < deadline) await sleep(100);
    })().catch((error: unknown) => {
      failure ??= error instanceof Error ? error.message : String(error);
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([runs, new Promise((resolve) => (timer = setTimeout(resolve, DEADLINE_S * 1000)))]);
    clearTimeout(timer);
    if (failure === undefined && progress.runsDone.size < RUNS) failure = `deadline of ${DEADLINE_S} s reached`;
    const seconds = (performance.now() - start) / 1000;
    const tasksDone = progress.tasksDone;
    loaded = false;
    await Promise.all([sampler, watcher]);
    const cpuAfter = await Promise.all(workers.map((w) => w.stats()));
    const cpuMs = cpuAfter.reduce((sum, s, i) => sum + s.cpuMs - (cpuBefore[i]?.cpuMs ?? 0), 0);
    const state = (await jsm.streams.info(STREAM)).state;
    times.sort((a, b) => a - b);
    const p99 = percentile(times, 99);
    const head = `${progress.runsDone.size} of ${RUNS} runs, ${tasksDone} of ${RUNS * TASKS} tasks in ${seconds.toFixed(1)} s`;
    if (failure !== undefined) throw new Error(`${head}: ${failure}`);
    return (
      `${count} worker(s): ${head} = ${(tasksDone / seconds).toFixed(0)} tasks/s; runs hosted at most ${peakHosted.join('/')}, worker memory at most ${peakRssMb.map((mb) => mb.toFixed(0)).join('/')} MB\n` +
      `    status round trip under load: p50 ${percentile(times, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (${times.length} answered, ${unanswered} unanswered within 5 s)` +
      `${p99 <= GOAL_P99_MS ? '' : ` — goal p99 <= ${GOAL_P99_MS} ms NOT met`}; workers' event-loop delay p99 ${cpuAfter.map((s) => s.loopDelayP99Ms.toFixed(0)).join('/')} ms\n` +
      `    per task: ${(cpuMs / tasksDone).toFixed(2)} ms of worker CPU (all workers), ${(state.messages / tasksDone).toFixed(2)} stream messages, ${(state.bytes / tasksDone).toFixed(0)} stream bytes (stream: ${state.messages} messages, ${(state.bytes / 1e6).toFixed(1)} MB, largest ${(progress.maxMessageBytes / 1e3).toFixed(0)} KB)`
    );
  } finally {
    progress?.stop();
    // A connection that fails to close has nothing left to report: the cluster is stopped next.
    await nc.close().catch(() => undefined);
  }
}

/** Runs the cluster benchmark on 1, 2 and 3 worker processes and prints the figures of each (or FAILED and why). */
export async function main(): Promise<void> {
  console.log(`three-node JetStream cluster (replicas 3), ${RUNS} runs × ${TASKS} instant tasks, one process per worker:`);
  for (const count of COUNTS) {
    const cluster = await startNatsCluster();
    const root = workspaceRoot();
    const workers: BenchWorker[] = [];
    // Workers first: they write attempt directories under the root until they stop.
    const cleanup = async (graceMs?: number): Promise<void> => {
      await Promise.all(workers.map((w) => w.stop(graceMs)));
      await cluster.stop();
      rmSync(root, { recursive: true, force: true, maxRetries: 3 });
    };
    // Interrupted: the servers and the root go too (the worker processes die with the bench anyway).
    const interrupted = (): void => void cleanup(0).finally(() => process.exit(130));
    process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
    try {
      console.log(`  ${await measure(cluster, root, count, workers)}`);
    } catch (error) {
      console.log(`  FAILED ${count} worker(s): ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
      await cleanup();
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
