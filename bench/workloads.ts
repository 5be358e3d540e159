// End-to-end host workloads (npm run bench): init → runUntilCompletion → COMPLETED with an
// in-process operator that completes every attempt at once, on each event log: the embedded SQLite
// log, then NATS JetStream (one private nats-server started by `main` for the whole table).
// Each workload runs in a fresh child process (so peak RSS is its own) and a fresh temp root; on
// JetStream each run first deletes the events stream, so it starts on an empty log like SQLite does.
//   tsx bench/workloads.ts                 all workloads on both logs, one child process each
//   tsx bench/workloads.ts a b [--log jetstream]   the table for the named workloads [on one log only]
//   tsx bench/workloads.ts fanout-1000     one workload in this process on the embedded log (prints one JSON line)
//   tsx bench/workloads.ts fanout-1000 --log jetstream   the same on JetStream, on the server named by
//                                          BENCH_NATS_URL / BENCH_NATS_USER / BENCH_NATS_PASS (set by
//                                          `main` for its children; only ever a throwaway server, as
//                                          its MS_EVENTS stream is deleted), else on a private one
//   tsx bench/workloads.ts fanout-1000 --warm   the same after WARMUP_RUNS untimed runs in the process
// On JetStream one event must fit in one message: CAMPAIGN.PLANNED holds the whole workflow
// (~240 B per task, 24 MB at 100k), hence `max_payload: 64MB` in nats.conf. A workload that fails
// prints a FAILED row with the error; run it by name for the full stderr.
// Workloads with a target also print "warm s": a second child runs the workload WARMUP_RUNS times
// untimed, then reports the next run (a long-lived orchestrator's steady state, V8's JIT done);
// "wall s" is always a fresh process's first run, most of it V8 warming up (interpreted code).
// Children run with the CLI's node flags and V8 settings (cli/process-settings.ts): they stand for `matterstack loop`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { Campaign } from '../campaign/campaign.ts';
import type { OperatorEntry } from '../workspace/operators-config.ts';
import type { Operator } from '../operators/operator.ts';
import { initializeRun } from '../host/run-lifecycle.ts';
import { runUntilCompletion } from '../host/drive-run.ts';
import { RunStore } from '../host/run-store.ts';
import type { AppendResult } from '../events/event-log.ts';
import type { ValidNewEvent } from '../events/envelope.ts';
import { JetStreamEventLog } from '../storage/jetstream-event-log.ts';
import { SqliteEventLog } from '../storage/sqlite-event-log.ts';
import type { WorkflowInput } from '../events/workflow.ts';
import { DelegatingEventLog } from '../storage/delegating-event-log.ts';
import { InstantOperator } from '../harness/instant-operator.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { applyOrchestratorV8Flags, ORCHESTRATOR_NODE_FLAGS } from '../cli/process-settings.ts';

/** Counts appends (transactions) and records, and RUN.STEP records, around the real log. */
class CountingLog extends DelegatingEventLog {
  appends = 0;
  events = 0;
  steps = 0;
  override async append(runId: string, events: readonly ValidNewEvent[], expectedSeq: number): Promise<AppendResult> {
    const result = await this.inner.append(runId, events, expectedSeq);
    this.appends += 1;
    this.events += events.length;
    for (const e of events) if (e.type === 'RUN.STEP') this.steps += 1;
    return result;
  }
}

/** A fixed workload: its campaign, its run's cap, and the operator its tasks run on (default: one that completes them at once). */
export interface Workload {
  name: string;
  tasks: number;
  maxConcurrent: number | null;
  /** Target wall time (s), when the issue sets one. */
  target?: number;
  campaign: () => Campaign;
  /** The `local` operator of the run (default: the in-process InstantOperator). */
  operator?: () => Operator;
}

/** `n` task ids `<prefix>000000`, `<prefix>000001`, … */
export const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(6, '0')}`);

/** A campaign that plans one workflow, then is done. */
export function oneShot(workflow: () => WorkflowInput): Campaign {
  return {
    plan: (state) => (state === null ? workflow() : null),
    analyze: () => ({ done: true }),
  };
}

const fanout = (n: number): Workload => ({
  name: `fanout-${n}`,
  tasks: n,
  maxConcurrent: null,
  ...(n === 1000 ? { target: 0.15 } : {}),
  campaign: () => oneShot(() => ({ tasks: ids('t', n).map((id) => ({ id, command: 'true' })) })),
});

export const WORKLOADS: Workload[] = [
  fanout(1000),
  {
    name: 'chain-200',
    tasks: 200,
    maxConcurrent: null,
    target: 0.2,
    campaign: () =>
      oneShot(() => ({ tasks: ids('t', 200).map((id, i, all) => ({ id, command: 'true', dependencies: i === 0 ? [] : [all[i - 1] as string] })) })),
  },
  { ...fanout(1000), name: 'fanout-1000-cap-50', maxConcurrent: 50, target: 0.2 },
  {
    name: 'campaign-5x200',
    tasks: 1000,
    maxConcurrent: null,
    target: 0.2,
    campaign: () => ({
      plan: (state) => {
        const iteration = state === null ? 0 : (state as { iteration: number }).iteration + 1;
        return iteration >= 5 ? null : { tasks: ids(`w${iteration}_t`, 200).map((id) => ({ id, command: 'true' })) };
      },
      analyze: (state) => ({ iteration: state === null ? 0 : ((state as { iteration?: number }).iteration ?? -1) + 1 }),
    }),
  },
  fanout(5000),
  fanout(10000),
  fanout(100000),
];

/** The event logs a workload can run on. */
export const LOG_KINDS = ['sqlite', 'jetstream'] as const;
/** An event log a workload runs on. */
export type LogKind = (typeof LOG_KINDS)[number];

/** A nats-server to put the JetStream log on, and the orchestrator's credentials. */
export interface NatsTarget {
  url: string;
  user: string;
  pass: string;
}

/** Where a workload's log lives: a fresh SQLite file under its root, or JetStream on a throwaway server. */
export type LogTarget = { kind: 'sqlite' } | { kind: 'jetstream'; nats: NatsTarget };

/** What one workload prints. */
export interface WorkloadResult {
  name: string;
  log: LogKind;
  tasks: number;
  status: string;
  seconds: number;
  /** CPU time of the process over the same span (user + system, all threads): steadier than wall time on a busy machine. */
  cpuSeconds: number;
  cycles: number;
  events: number;
  appends: number;
  peakRssMb: number;
  usPerTask: number;
  target?: number;
  /**
   * Wall time of the same workload run after WARMUP_RUNS untimed runs in the same process (a
   * long-lived orchestrator's case: code compiled by the JIT); the first run's `seconds` includes V8's warm-up.
   */
  warmSeconds?: number;
}

/** Creates a temp workspaces root holding the `bench` workspace. */
export function benchRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'ms-bench-wl-'));
  const dir = join(root, 'bench');
  mkdirSync(dir, { recursive: true });
  // The workspace needs a campaign file to exist; the campaign itself is passed in-process.
  writeFileSync(join(dir, 'campaign.mjs'), 'export function plan() { return null; }\nexport function analyze() { return null; }\n');
  mkdirSync(join(root, '.matterstack'), { recursive: true });
  return root;
}

/** Deletes the events stream (if any), so the next JetStream log starts empty. */
async function deleteEventsStream(nats: NatsTarget): Promise<void> {
  const nc = await connect({ servers: nats.url, user: nats.user, pass: nats.pass });
  try {
    await (await jetstreamManager(nc)).streams.delete('MS_EVENTS');
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
  } finally {
    await nc.close();
  }
}

/** Opens an empty event log of `target` (under `root` for SQLite), counting appends. */
async function openCountingLog(target: LogTarget, root: string): Promise<CountingLog> {
  if (target.kind === 'sqlite') {
    const synchronous = process.env.BENCH_SYNC === 'NORMAL' ? 'NORMAL' : 'FULL';
    return new CountingLog(SqliteEventLog.open(join(root, '.matterstack', 'events.sqlite'), { synchronous }));
  }
  await deleteEventsStream(target.nats);
  return new CountingLog(await JetStreamEventLog.connect({ servers: target.nats.url, user: target.nats.user, pass: target.nats.pass }));
}

/** Drives one workload to the end as run `runId` on `store` and measures it. */
async function measure(workload: Workload, store: RunStore, log: CountingLog, kind: LogKind, runId: string): Promise<WorkloadResult> {
  const campaign = workload.campaign();
  const factories = { local: (_key: string, _entry: OperatorEntry) => workload.operator?.() ?? new InstantOperator() };
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const run = await initializeRun({ store, workspace: 'bench', runId, campaign, maxConcurrent: workload.maxConcurrent });
  const status = await runUntilCompletion(run, { campaign, registry: { factories } });
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  await run.close();
  return {
    name: workload.name,
    log: kind,
    tasks: workload.tasks,
    status,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    cycles: log.steps,
    events: log.events,
    appends: log.appends,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    usPerTask: (seconds * 1e6) / workload.tasks,
    ...(workload.target !== undefined ? { target: workload.target } : {}),
  };
}

/**
 * Runs one workload in this process on the log of `target`, in a fresh temp workspaces root (or in
 * `sharedRoot`, a `benchRoot()` the caller keeps, where other processes may watch the log).
 */
export async function runWorkload(workload: Workload, target: LogTarget, runId = `bench_${workload.name}`, sharedRoot?: string): Promise<WorkloadResult> {
  const root = sharedRoot ?? benchRoot();
  try {
    const log = await openCountingLog(target, root);
    try {
      // natsUrl only picks the JetStream projections file here: the log is passed in.
      const store = await RunStore.open({ root, log, ...(target.kind === 'jetstream' ? { natsUrl: target.nats.url } : {}) });
      try {
        return await measure(workload, store, log, target.kind, runId);
      } finally {
        await store.close();
      }
    } finally {
      await log.close();
    }
  } finally {
    if (sharedRoot === undefined) rmSync(root, { recursive: true, force: true });
  }
}

/** Child argument: run the workload WARMUP_RUNS times untimed first, then report the next run. */
const WARM_FLAG = '--warm';
/** Untimed runs before a warm measurement: the JIT settles after about three (fanout-1000: 0.22, 0.16, 0.11, 0.09 s). */
const WARMUP_RUNS = 3;
/** Argument naming the log: `--log sqlite` (default for one workload) or `--log jetstream`. */
const LOG_FLAG = '--log';
const NATS_ENV = { url: 'BENCH_NATS_URL', user: 'BENCH_NATS_USER', pass: 'BENCH_NATS_PASS' } as const;

/** The environment telling a child which nats-server to use. */
function natsEnv(server: NatsServerHandle): Record<string, string> {
  const { user, pass } = server.users.orchestrator;
  return { [NATS_ENV.url]: server.url, [NATS_ENV.user]: user, [NATS_ENV.pass]: pass };
}

/** The nats-server named by the environment (set by `main` for its children), if any. */
function natsFromEnv(): NatsTarget | undefined {
  const url = process.env[NATS_ENV.url];
  return url ? { url, user: process.env[NATS_ENV.user] ?? '', pass: process.env[NATS_ENV.pass] ?? '' } : undefined;
}

/** Runs this file on one workload in a child process and parses its JSON line (or says why it failed, in one line). */
function runChild(args: string[], env: Record<string, string>): WorkloadResult | string {
  const child = spawnSync(process.execPath, [...ORCHESTRATOR_NODE_FLAGS, '--import', 'tsx', fileURLToPath(import.meta.url), ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    env: { ...process.env, ...env },
  });
  try {
    return JSON.parse(child.stdout.trim().split('\n').pop() ?? '') as WorkloadResult;
  } catch {
    const lines = child.stderr.split('\n').filter((line) => line.trim() !== '');
    const reason = lines.find((line) => /^\w*Error\b/.test(line)) ?? lines[lines.length - 1] ?? '';
    return `FAILED (exit ${child.status}): ${reason.slice(0, 300)}`;
  }
}

/** Runs one table row: a cold child, then (for workloads with a target) a warm one. */
function runRow(workload: Workload, kind: LogKind, env: Record<string, string>): WorkloadResult | string {
  const args = [workload.name, LOG_FLAG, kind];
  const cold = runChild(args, env);
  if (typeof cold === 'string' || workload.target === undefined) return cold;
  const warm = runChild([...args, WARM_FLAG], env);
  return typeof warm === 'object' ? { ...cold, warmSeconds: warm.seconds } : cold;
}

const HEADER = `${'workload'.padEnd(20)} ${'log'.padEnd(9)} ${'status'.padEnd(10)} ${'wall s'.padStart(8)} ${'cpu s'.padStart(7)} ${'target'.padStart(7)} ${'cycles'.padStart(7)} ${'events'.padStart(8)} ${'appends'.padStart(8)} ${'µs/task'.padStart(8)} ${'peak RSS MB'.padStart(12)} ${'warm s'.padStart(7)}`;

/** One table line. */
function formatRow(r: WorkloadResult): string {
  return `${r.name.padEnd(20)} ${r.log.padEnd(9)} ${r.status.padEnd(10)} ${r.seconds.toFixed(3).padStart(8)} ${r.cpuSeconds.toFixed(3).padStart(7)} ${(r.target?.toFixed(2) ?? '-').padStart(7)} ${String(r.cycles).padStart(7)} ${String(r.events).padStart(8)} ${String(r.appends).padStart(8)} ${r.usPerTask.toFixed(1).padStart(8)} ${r.peakRssMb.toFixed(0).padStart(12)} ${(r.warmSeconds?.toFixed(3) ?? '-').padStart(7)}`;
}

/** Prints the cost per task of fanout-100000 over fanout-1000 on one log, when both ran. */
function printScaling(results: WorkloadResult[], kind: LogKind): void {
  const small = results.find((r) => r.log === kind && r.name === 'fanout-1000');
  const big = results.find((r) => r.log === kind && r.name === 'fanout-100000');
  if (small && big) console.log(`cost per task 100k / 1k (${kind}): ${(big.usPerTask / small.usPerTask).toFixed(2)}x (target ≤ 1.5x)`);
}

/** Runs every workload (or those named) on each log in its own child process and prints the table. */
export async function main(names: string[] = [], logs: readonly LogKind[] = LOG_KINDS): Promise<WorkloadResult[]> {
  const server = logs.includes('jetstream') ? await startNatsServer() : undefined;
  try {
    const selected = names.length > 0 ? WORKLOADS.filter((w) => names.includes(w.name)) : WORKLOADS;
    const results: WorkloadResult[] = [];
    console.log('\nhost workloads (instant in-process operator; fresh process and root each, with the CLI\'s V8 settings; log: embedded SQLite file, or NATS JetStream on one private nats-server, events stream emptied before each run)');
    console.log(`wall s: a fresh process's first run; warm s: the run after ${WARMUP_RUNS} untimed ones in one process (steady state)`);
    console.log(HEADER);
    for (const kind of logs) {
      const env = kind === 'jetstream' && server !== undefined ? natsEnv(server) : {};
      for (const workload of selected) {
        const row = runRow(workload, kind, env);
        if (typeof row === 'string') {
          console.log(`${workload.name.padEnd(20)} ${kind.padEnd(9)} ${row}`);
          continue;
        }
        results.push(row);
        console.log(formatRow(row));
      }
    }
    for (const kind of logs) printScaling(results, kind);
    return results;
  } finally {
    await server?.stop();
  }
}

/** The workload a name stands for: a table workload, or any `fanout-N` (memory profiling at 20k/50k). */
function workloadNamed(name: string | undefined): Workload | undefined {
  const adHoc = /^fanout-(\d+)$/.exec(name ?? '');
  return WORKLOADS.find((w) => w.name === name) ?? (adHoc ? fanout(Number(adHoc[1])) : undefined);
}

/** Runs one workload in this process on `kind` (a private nats-server unless the environment names one) and prints its JSON line. */
async function runOne(workload: Workload, kind: LogKind, warm: boolean): Promise<void> {
  const named = kind === 'jetstream' ? natsFromEnv() : undefined;
  const server = kind === 'jetstream' && named === undefined ? await startNatsServer() : undefined;
  try {
    const nats = named ?? (server ? { url: server.url, ...server.users.orchestrator } : undefined);
    const target: LogTarget = nats ? { kind: 'jetstream', nats } : { kind: 'sqlite' };
    if (warm) for (let run = 1; run <= WARMUP_RUNS; run++) await runWorkload(workload, target, `bench_${workload.name}_warmup${run}`);
    console.log(JSON.stringify(await runWorkload(workload, target)));
  } finally {
    await server?.stop();
  }
}

/** The command line: workload names, `--log sqlite|jetstream`, `--warm`. */
function parseArgs(argv: string[]): { names: string[]; log: LogKind | undefined; warm: boolean } {
  const names: string[] = [];
  let log: LogKind | undefined;
  let warm = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === WARM_FLAG) warm = true;
    else if (arg === LOG_FLAG) {
      const value = argv[++i];
      if (value !== 'sqlite' && value !== 'jetstream') throw new Error(`${LOG_FLAG} takes sqlite or jetstream, not ${String(value)}`);
      log = value;
    } else names.push(arg);
  }
  return { names, log, warm };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { names, log, warm } = parseArgs(process.argv.slice(2));
  const workload = names.length === 1 ? workloadNamed(names[0]) : undefined;
  if (workload !== undefined) {
    applyOrchestratorV8Flags();
    await runOne(workload, log ?? 'sqlite', warm);
  }
  else await main(names, log ? [log] : LOG_KINDS);
}
