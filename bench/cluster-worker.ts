// One worker of the cluster bench in its own OS process (bench/cluster.bench.ts starts one to three),
// so that workers do not share an event loop: a real worker whose operator completes every attempt
// at once. It talks to the bench over the IPC channel: `ready` once serving, its CPU time and hosted
// runs when asked, and it stops when told to or when the bench goes away.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { runWorker, WORKER_COMMAND_NICE } from '../distributed/worker.ts';
import { InstantOperator } from '../harness/instant-operator.ts';

/** What the bench passes in BENCH_CLUSTER_WORKER (JSON). */
export interface ClusterWorkerConfig {
  urls: string[];
  user: string;
  pass: string;
  root: string;
  workerId: string;
}

/** A message from a bench worker to the bench. */
export type ClusterWorkerReport = { type: 'ready' } | { type: 'stats'; cpuMs: number; hosted: number; loopDelayP99Ms: number; rssMb: number } | { type: 'failed'; reason: string };

function send(report: ClusterWorkerReport): void {
  process.send?.(report);
}

// Whatever happens to the bench (killed, crashed), a worker left behind would hold its runs: leave with it.
process.on('disconnect', () => process.exit(0));

const config = JSON.parse(process.env.BENCH_CLUSTER_WORKER ?? '{}') as ClusterWorkerConfig;
try {
  const worker = await runWorker({
    natsUrl: config.urls,
    user: config.user,
    pass: config.pass,
    root: config.root,
    workerId: config.workerId,
    operators: { factories: { local: () => new InstantOperator() } },
    // As `matterstack worker` runs by default.
    steppingNice: WORKER_COMMAND_NICE,
  });
  // How late the event loop runs its callbacks: a command waits that long before it is even read.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  process.on('message', (message: { type?: string }) => {
    if (message.type === 'stats') {
      const cpu = process.cpuUsage();
      send({ type: 'stats', cpuMs: (cpu.user + cpu.system) / 1000, hosted: worker.hostedRuns().length, loopDelayP99Ms: loopDelay.percentile(99) / 1e6, rssMb: process.memoryUsage().rss / 1e6 });
    } else if (message.type === 'measure') {
      loopDelay.reset();
      loopDelay.enable();
    } else if (message.type === 'stop') {
      // A worker that cannot drain cleanly is killed by the bench anyway: exit either way.
      void worker.stop().finally(() => process.exit(0));
    }
  });
  send({ type: 'ready' });
} catch (error) {
  send({ type: 'failed', reason: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}
