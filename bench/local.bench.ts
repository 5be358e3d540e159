// Real local processes (issue 20): N tasks running `true` with a cap of 8, through the host with the
// real local operator (wrapper, markers, watcher), beside `seq N | xargs -P 8 -n1 sh -c true` on the
// same machine in the same run. CPU is the measuring process's own (user + system; the tasks, their
// wrappers and xargs' children are not counted): the orchestrator's cost per task.
// The JetStream row hosts the run in-process on a private nats-server, as a worker would.
// Each task creates ~10 files (folder, markers, logs): the figures depend on the filesystem of the
// temp folder, whose cost per file created is printed first. The workspaces are deleted only at the
// end: on an ext4 without a journal (this project's VMs), every file created in the next minutes
// scans the inodes just deleted (ext4's recently_deleted), which slowed later rows 2-3x.
//   npx tsx bench/local.bench.ts [500 5000]      (TMPDIR=/dev/shm: the same on tmpfs)
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { applyOrchestratorV8Flags, ORCHESTRATOR_NODE_FLAGS } from '../cli/process-settings.ts';
import { LocalOperator } from '../operators/local-operator.ts';
import { startNatsServer } from '../harness/nats-server.ts';
import { benchRoot, ids, oneShot, runWorkload, type LogTarget, type Workload, type WorkloadResult } from './workloads.ts';

const CAP = 8;

/** `n` tasks running `true` on the real local operator, at most CAP at once. */
function trueTasks(n: number): Workload {
  return {
    name: `local-true-${n}`,
    tasks: n,
    maxConcurrent: CAP,
    campaign: () => oneShot(() => ({ tasks: ids('t', n).map((id) => ({ id, command: 'true' })) })),
    operator: () => new LocalOperator(),
  };
}

/** Wall seconds of `seq n | xargs -P CAP -n1 sh -c true`. */
function xargsSeconds(n: number): number {
  const start = performance.now();
  const result = spawnSync('sh', ['-c', `seq ${n} | xargs -P ${CAP} -n1 sh -c true`], { stdio: 'ignore' });
  if (result.status !== 0) throw new Error(`xargs exited ${result.status}`);
  return (performance.now() - start) / 1000;
}

function row(result: WorkloadResult, xargs: number): string {
  const ratio = result.seconds / xargs;
  const cpuMsPerTask = (result.cpuSeconds * 1000) / result.tasks;
  return `${String(result.tasks).padStart(6)} ${result.log.padEnd(9)} ${result.status.padEnd(10)} ${result.seconds.toFixed(2).padStart(7)} ${xargs.toFixed(2).padStart(8)} ${`${ratio.toFixed(2)}x`.padStart(7)} ${cpuMsPerTask.toFixed(2).padStart(12)} ${((result.seconds * 1000) / result.tasks).toFixed(2).padStart(12)}`;
}

/** Microseconds to create one empty file in a fresh folder under `root` (kept: deleting them would slow what follows). */
function createMicros(root: string, files = 500): number {
  const start = performance.now();
  for (let i = 0; i < files; i++) closeSync(openSync(join(root, `probe-${i}`), 'wx'));
  return ((performance.now() - start) * 1000) / files;
}

/** First argument of the child that measures (see `main`). */
const CHILD_FLAG = '--measure';

/**
 * Prints, for each size, ours on both logs beside xargs, with the ratio and the cost per task:
 * measured in a child started as `matterstack` starts (its node and V8 flags), not in this process.
 */
export async function main(sizes: number[] = [500, 5000]): Promise<void> {
  const child = spawnSync(process.execPath, [...ORCHESTRATOR_NODE_FLAGS, '--import', 'tsx', fileURLToPath(import.meta.url), CHILD_FLAG, ...sizes.map(String)], { stdio: 'inherit' });
  if (child.status !== 0) throw new Error(`the local bench's child exited ${child.status ?? child.signal}`);
}

/** The measurement itself, in the child. */
async function measureAll(sizes: number[]): Promise<void> {
  applyOrchestratorV8Flags();
  console.log(`\nlocal processes: N × \`true\`, cap ${CAP}; targets: wall ≤ 2x xargs (JetStream ≤ 2.5x), orchestrator CPU ≤ 1 ms per task`);
  const roots: string[] = [benchRoot()];
  console.log(`(workspaces in ${tmpdir()}: ${createMicros(roots[0] as string).toFixed(0)} µs to create a file there)`);
  console.log(`${'tasks'.padStart(6)} ${'log'.padEnd(9)} ${'status'.padEnd(10)} ${'wall s'.padStart(7)} ${'xargs s'.padStart(8)} ${'ratio'.padStart(7)} ${'cpu ms/task'.padStart(12)} ${'wall ms/task'.padStart(12)}`);
  const server = await startNatsServer();
  try {
    const targets: LogTarget[] = [{ kind: 'sqlite' }, { kind: 'jetstream', nats: { url: server.url, ...server.users.orchestrator } }];
    for (const n of sizes) {
      for (const target of targets) {
        const xargs = xargsSeconds(n);
        const root = benchRoot();
        roots.push(root);
        console.log(row(await runWorkload(trueTasks(n), target, `bench_local_${n}`, root), xargs));
      }
    }
  } finally {
    await server.stop();
    for (const root of roots) rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [first, ...rest] = process.argv.slice(2);
  if (first === CHILD_FLAG) await measureAll(rest.map(Number));
  else {
    const sizes = process.argv.slice(2).map(Number);
    await main(sizes.length > 0 ? sizes : undefined);
  }
}
