// The worker processes of the cluster bench: started with `node --import tsx bench/cluster-worker.ts`,
// asked for their CPU time over IPC, stopped (then killed) at the end, and killed with the bench on
// any exit path so that no worker outlives a failed or interrupted measurement.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClusterWorkerConfig, ClusterWorkerReport } from './cluster-worker.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const ENTRY = join(HERE, 'cluster-worker.ts');
const live = new Set<ChildProcess>();
let hooked = false;

/** A worker process of the bench. */
export interface BenchWorker {
  workerId: string;
  /** Its CPU time so far (user + system), the runs it hosts now, its event loop's delay p99 since `measure()`, its resident memory. */
  stats(): Promise<{ cpuMs: number; hosted: number; loopDelayP99Ms: number; rssMb: number }>;
  /** Starts sampling its event loop's delay. */
  measure(): void;
  /** Asks it to drain; kills it when it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  // 'exit' handlers run synchronously: SIGKILL is all there is time for.
  process.on('exit', killAll);
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts one worker process and resolves once it serves commands (rejects with its reason or its stderr tail). */
export async function startBenchWorker(config: ClusterWorkerConfig, readyTimeoutMs = 60_000): Promise<BenchWorker> {
  hookExit();
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY], {
    cwd: join(HERE, '..'),
    env: { ...process.env, BENCH_CLUSTER_WORKER: JSON.stringify(config) },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  const waiting: ((report: ClusterWorkerReport) => void)[] = [];
  child.on('message', (report: ClusterWorkerReport) => waiting.shift()?.(report));
  const next = (timeoutMs: number, what: string): Promise<ClusterWorkerReport> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${config.workerId}: no ${what} within ${timeoutMs} ms; stderr: ${stderr.trim() || '(empty)'}`)), timeoutMs);
      const onExit = (): void => reject(new Error(`worker ${config.workerId} exited (${child.exitCode ?? child.signalCode}) before ${what}; stderr: ${stderr.trim() || '(empty)'}`));
      child.once('exit', onExit);
      waiting.push((report) => {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve(report);
      });
    });
  try {
    const ready = await next(readyTimeoutMs, 'ready');
    if (ready.type === 'failed') throw new Error(`worker ${config.workerId} failed to start: ${ready.reason}`);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    workerId: config.workerId,
    async stats() {
      const answer = next(10_000, 'stats');
      child.send({ type: 'stats' });
      const report = await answer;
      if (report.type !== 'stats') throw new Error(`worker ${config.workerId} answered ${report.type} to stats`);
      return { cpuMs: report.cpuMs, hosted: report.hosted, loopDelayP99Ms: report.loopDelayP99Ms, rssMb: report.rssMb };
    },
    measure() {
      child.send({ type: 'measure' });
    },
    async stop(graceMs = 10_000) {
      if (child.connected) child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited(child);
      clearTimeout(timer);
    },
  };
}
