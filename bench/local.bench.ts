// Local processes (npm run bench -- local): N tasks running `true` with a cap of 8, through the real
// local operator (launcher process, markers, cgroups where writable), against `xargs -P 8` running
// the same `sh -c true` N times, side by side in one invocation: the embedded log (as `matterstack
// loop` drives it) and a worker hosting the run on the JetStream log. Each of ours runs in a fresh
// process (the CLI's V8 settings); its wall time is init to the run's end, its CPU the process's own
// (user + system, the tasks and the launcher not counted: the launcher's is shown beside it).
// The machine may be shared: each size runs REPEATS times (LOCAL_BENCH_REPEATS, default 2), xargs
// right before each of ours, and the ratio is taken per pair. LOCAL_BENCH_TASKS=500,5000 picks the sizes.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { ORCHESTRATOR_NODE_FLAGS } from '../cli/process-settings.ts';
import { requestCommand, requestInit } from '../distributed/command-client.ts';
import { runWorker } from '../distributed/worker.ts';
import { TERMINAL_RUN_STATUSES } from '../events/statuses.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { initializeRun, runUntilCompletion } from '../host/run-lifecycle.ts';
import { LOCAL_FILES } from '../operators/local-attempt-files.ts';

const CAP = 8;
type LogKind = 'sqlite' | 'jetstream';

/** What one of our runs reports (a JSON line of the child). */
interface LocalResult {
  status: string;
  wallSeconds: number;
  cpuSeconds: number;
  launcherCpuSeconds: number;
}

/** A temp root with workspace `bench`: `tasks` tasks running `true` on a local operator capped at CAP. */
function benchRoot(tasks: number): string {
  const root = mkdtempSync(join(tmpdir(), 'ms-bench-local-'));
  mkdirSync(join(root, 'bench'));
  writeFileSync(
    join(root, 'bench', 'campaign.mjs'),
    `export function plan(state) { return state === null ? { tasks: Array.from({ length: ${tasks} }, (_, i) => ({ id: 't' + String(i).padStart(6, '0'), command: 'true' })) } : null; }
export function analyze() { return { done: true }; }\n`,
  );
  writeFileSync(
    join(root, 'bench', 'operators.yaml'),
    `defaults:\n  max_concurrent_global: ${CAP}\noperators:\n  local.default:\n    kind: local\n    backend:\n      type: local\n    max_concurrent: ${CAP}\n`,
  );
  return root;
}

/** CPU seconds (user + system) process `pid` has used so far, from /proc; 0 when it cannot be read. */
function procCpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime (fields 14 and 15) in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** The launcher that started the run's first attempt (it serves the whole run): its CPU so far. */
function launcherCpuSeconds(root: string, runId: string): number {
  const attempts = join(root, 'bench', 'runs', runId, 'attempts');
  const first = readdirSync(attempts).sort()[0];
  if (first === undefined) return 0;
  const started = JSON.parse(readFileSync(join(attempts, first, `${first}-a1`, LOCAL_FILES.started), 'utf8')) as { launcher?: { pid: number } };
  return started.launcher === undefined ? 0 : procCpuSeconds(started.launcher.pid);
}

/** Child: init and drive the run in this process, as `matterstack loop` does. */
async function runEmbedded(root: string): Promise<LocalResult> {
  const runId = 'bench_local';
  const start = performance.now();
  const cpu = process.cpuUsage();
  const run = await initializeRun({ root, workspace: 'bench', runId });
  const status = await runUntilCompletion(run);
  const wallSeconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  const launcher = launcherCpuSeconds(root, runId);
  await run.close();
  return { status, wallSeconds, cpuSeconds: (used.user + used.system) / 1e6, launcherCpuSeconds: launcher };
}

interface NatsUsers {
  url: string;
  orchestrator: { user: string; pass: string };
  scientist: { user: string; pass: string };
}

/** Child: a worker in this process hosts the run on JetStream; a NATS client inits it and asks its status until it ends. */
async function runOnWorker(root: string, nats: NatsUsers): Promise<LocalResult> {
  const runId = 'bench_local_js';
  const worker = await runWorker({ natsUrl: nats.url, ...nats.orchestrator, root, leaseTtlMs: 5000 });
  const nc = await connect({ servers: nats.url, ...nats.scientist });
  try {
    const start = performance.now();
    const cpu = process.cpuUsage();
    const init = await requestInit(nc, { workspace: 'bench', runId });
    if (!init.accepted) throw new Error(`init refused: ${JSON.stringify(init)}`);
    let status = 'PENDING';
    while (!(TERMINAL_RUN_STATUSES as readonly string[]).includes(status)) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const reply = await requestCommand(nc, runId, 'status');
      status = reply.accepted ? String(reply.status?.status ?? status) : status;
    }
    const wallSeconds = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    return { status, wallSeconds, cpuSeconds: (used.user + used.system) / 1e6, launcherCpuSeconds: launcherCpuSeconds(root, runId) };
  } finally {
    await nc.close();
    await worker.stop();
  }
}

/** Wall seconds of `seq N | xargs -P CAP -n1 sh -c true`. */
function xargsSeconds(tasks: number): number {
  const start = performance.now();
  const done = spawnSync('sh', ['-c', `seq ${tasks} | xargs -P ${CAP} -n1 sh -c true`], { stdio: 'ignore' });
  if (done.status !== 0) throw new Error(`xargs failed (exit ${done.status})`);
  return (performance.now() - start) / 1000;
}

/** Runs one of ours in a fresh child process and parses its JSON line. */
function runChild(tasks: number, kind: LogKind, server: NatsServerHandle | undefined): LocalResult | string {
  const root = benchRoot(tasks);
  try {
    const env = server === undefined ? {} : { BENCH_NATS: JSON.stringify({ url: server.url, orchestrator: server.users.orchestrator, scientist: server.users.scientist }) };
    const child = spawnSync(process.execPath, [...ORCHESTRATOR_NODE_FLAGS, '--import', 'tsx', fileURLToPath(import.meta.url), '--one', kind, root], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
      env: { ...process.env, MATTERSTACK_NATS_URL: '', ...env },
    });
    try {
      return JSON.parse(child.stdout.trim().split('\n').pop() ?? '') as LocalResult;
    } catch {
      return `FAILED (exit ${child.status}): ${child.stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 400)}`;
    }
  } finally {
    rmSync(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

const HEADER = `${'tasks'.padStart(6)} ${'log'.padEnd(9)} ${'status'.padEnd(10)} ${'xargs s'.padStart(8)} ${'ours s'.padStart(8)} ${'ratio'.padStart(6)} ${'ms/task'.padStart(8)} ${'cpu ms/task'.padStart(12)} ${'launcher cpu ms/task'.padStart(21)}`;

/** Prints the table: for each size and log, REPEATS pairs of xargs and ours. */
export async function main(): Promise<void> {
  const sizes = (process.env.LOCAL_BENCH_TASKS ?? '500,5000').split(',').map(Number);
  const repeats = Number(process.env.LOCAL_BENCH_REPEATS ?? 2);
  const server = await startNatsServer();
  try {
    console.log(`\nlocal processes: N tasks \`true\` (cap ${CAP}) vs \`seq N | xargs -P ${CAP} -n1 sh -c true\`, run right before each of ours; goals: ratio ≤ 2 (embedded), ≤ 2.5 (worker on JetStream), cpu ≤ 1 ms/task`);
    console.log(HEADER);
    for (const tasks of sizes) {
      for (const kind of ['sqlite', 'jetstream'] as const) {
        for (let i = 0; i < repeats; i++) {
          const xargs = xargsSeconds(tasks);
          const ours = runChild(tasks, kind, kind === 'jetstream' ? server : undefined);
          if (typeof ours === 'string') {
            console.log(`${String(tasks).padStart(6)} ${kind.padEnd(9)} ${ours}`);
            continue;
          }
          console.log(
            `${String(tasks).padStart(6)} ${kind.padEnd(9)} ${ours.status.padEnd(10)} ${xargs.toFixed(2).padStart(8)} ${ours.wallSeconds.toFixed(2).padStart(8)} ${(ours.wallSeconds / xargs).toFixed(2).padStart(6)} ${((ours.wallSeconds * 1000) / tasks).toFixed(2).padStart(8)} ${((ours.cpuSeconds * 1000) / tasks).toFixed(3).padStart(12)} ${((ours.launcherCpuSeconds * 1000) / tasks).toFixed(3).padStart(21)}`,
          );
        }
      }
    }
  } finally {
    await server.stop();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const one = process.argv.indexOf('--one');
  if (one < 0) await main();
  else {
    const kind = process.argv[one + 1] as LogKind;
    const root = process.argv[one + 2]!;
    const result = kind === 'jetstream' ? await runOnWorker(root, JSON.parse(process.env.BENCH_NATS ?? '{}') as NatsUsers) : await runEmbedded(root);
    console.log(JSON.stringify(result));
    // The launcher's pipes are unreferenced; nothing else should hold the process, but a bench must end.
    process.exit(0);
  }
}
