// End-to-end host workloads (npm run bench): init → runUntilCompletion → COMPLETED on the
// embedded SQLite log with an in-process operator that completes every attempt at once.
// Each workload runs in a fresh child process (so peak RSS is its own) and a fresh temp root.
//   tsx bench/workloads.ts                 all workloads, one child process each
//   tsx bench/workloads.ts fanout-1000     one workload in this process (prints one JSON line)
//   tsx bench/workloads.ts fanout-1000 --warm   the same after one untimed run in the process
// Workloads with a target also print "warm s": a second child runs the workload twice and reports
// the second run (a long-lived worker's case); "wall s" is always a fresh process's first run.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Campaign } from '../actors/campaign/campaign.ts';
import type { OperatorEntry } from '../actors/config/operators-config.ts';
import type { CollectedResults, Operator, OperatorContext, PollResult, SubmitResult, Unsubscribe } from '../actors/operators/operator.ts';
import { initializeRun, runUntilCompletion } from '../actors/run-lifecycle.ts';
import { RunStore } from '../actors/run-store.ts';
import type { AppendResult } from '../events/event-log.ts';
import type { NewEvent } from '../events/envelope.ts';
import { SqliteEventLog } from '../events/sqlite-event-log.ts';
import type { WorkflowInput } from '../events/workflow.ts';
import { DelegatingEventLog } from '../events/delegating-event-log.ts';

/** An operator that accepts every attempt and reports it COMPLETED at once (push, no polling). */
export class InstantOperator implements Operator {
  readonly kind = 'local';
  async prepare(): Promise<void> {}
  async submit(ctx: OperatorContext): Promise<SubmitResult> {
    return { externalId: `bench:${ctx.attempt.attemptId}`, status: 'SUBMITTED' };
  }
  async poll(): Promise<PollResult> {
    return { status: 'COMPLETED' };
  }
  async collectResults(): Promise<CollectedResults> {
    return { files: {} };
  }
  async cancel(): Promise<PollResult> {
    return { status: 'CANCELLED', reason: 'cancelled' };
  }
  watch(_ctx: OperatorContext, onChange: (result: PollResult) => void): Unsubscribe {
    let active = true;
    queueMicrotask(() => {
      if (active) onChange({ status: 'COMPLETED' });
    });
    return () => {
      active = false;
    };
  }
}

/** Counts appends (transactions) and records, and RUN.STEP records, around the real log. */
class CountingLog extends DelegatingEventLog {
  appends = 0;
  events = 0;
  steps = 0;
  override async append(runId: string, events: readonly NewEvent[], expectedSeq: number): Promise<AppendResult> {
    const result = await this.inner.append(runId, events, expectedSeq);
    this.appends += 1;
    this.events += events.length;
    for (const e of events) if (e.type === 'RUN.STEP') this.steps += 1;
    return result;
  }
}

interface Workload {
  name: string;
  tasks: number;
  maxConcurrent: number | null;
  /** Target wall time (s), when the issue sets one. */
  target?: number;
  campaign: () => Campaign;
}

const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(6, '0')}`);

function oneShot(workflow: () => WorkflowInput): Campaign {
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

/** What one workload prints. */
export interface WorkloadResult {
  name: string;
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
   * Wall time of the same workload run a second time in the same process (a long-lived worker's
   * case: code already compiled by the JIT); the first run's `seconds` includes V8's warm-up.
   */
  warmSeconds?: number;
}

/** Runs one workload in this process, in a fresh temp workspaces root. */
export async function runWorkload(workload: Workload): Promise<WorkloadResult> {
  const root = mkdtempSync(join(tmpdir(), 'ms-bench-wl-'));
  try {
    const dir = join(root, 'bench');
    mkdirSync(dir, { recursive: true });
    // The workspace needs a campaign file to exist; the campaign itself is passed in-process.
    writeFileSync(join(dir, 'campaign.mjs'), 'export function plan() { return null; }\nexport function analyze() { return null; }\n');
    mkdirSync(join(root, '.matterstack'), { recursive: true });
    const synchronous = process.env.BENCH_SYNC === 'NORMAL' ? 'NORMAL' : 'FULL';
    const log = new CountingLog(SqliteEventLog.open(join(root, '.matterstack', 'events.sqlite'), { synchronous }));
    const store = await RunStore.open({ root, log });
    const campaign = workload.campaign();
    const factories = { local: (_key: string, _entry: OperatorEntry) => new InstantOperator() };
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    const run = await initializeRun({ store, workspace: 'bench', runId: 'bench', campaign, maxConcurrent: workload.maxConcurrent });
    const status = await runUntilCompletion(run, { campaign, registry: { factories } });
    const seconds = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    await run.close();
    await store.close();
    await log.close();
    return {
      name: workload.name,
      tasks: workload.tasks,
      status,
      seconds,
      cpuSeconds,
      cycles: log.steps,
      events: log.events,
      appends: log.appends,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      usPerTask: (seconds * 1e6) / workload.tasks,
      ...(workload.target !== undefined ? { target: workload.target } : {}),
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Child argument: run the workload once untimed first, then report the second run. */
const WARM_FLAG = '--warm';

/** Runs every workload (or those named) in its own child process and prints the table. */
export async function main(names: string[] = []): Promise<WorkloadResult[]> {
  const selected = names.length > 0 ? WORKLOADS.filter((w) => names.includes(w.name)) : WORKLOADS;
  const results: WorkloadResult[] = [];
  const self = fileURLToPath(import.meta.url);
  console.log('\nhost workloads (embedded SQLite log, instant in-process operator; fresh process and root each)');
  console.log(
    `${'workload'.padEnd(20)} ${'status'.padEnd(10)} ${'wall s'.padStart(8)} ${'cpu s'.padStart(7)} ${'target'.padStart(7)} ${'cycles'.padStart(7)} ${'events'.padStart(8)} ${'appends'.padStart(8)} ${'µs/task'.padStart(8)} ${'peak RSS MB'.padStart(12)} ${'warm s'.padStart(7)}`,
  );
  const runChild = (args: string[]): WorkloadResult | string => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', self, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
    try {
      return JSON.parse(child.stdout.trim().split('\n').pop() ?? '') as WorkloadResult;
    } catch {
      return `FAILED (exit ${child.status}): ${child.stderr.slice(0, 2000)}`;
    }
  };
  for (const workload of selected) {
    const cold = runChild([workload.name]);
    if (typeof cold === 'string') {
      console.log(`${workload.name.padEnd(20)} ${cold}`);
      continue;
    }
    const warm = workload.target === undefined ? undefined : runChild([workload.name, WARM_FLAG]);
    const result: WorkloadResult = typeof warm === 'object' ? { ...cold, warmSeconds: warm.seconds } : cold;
    results.push(result);
    console.log(
      `${result.name.padEnd(20)} ${result.status.padEnd(10)} ${result.seconds.toFixed(3).padStart(8)} ${result.cpuSeconds.toFixed(3).padStart(7)} ${(result.target?.toFixed(2) ?? '-').padStart(7)} ${String(result.cycles).padStart(7)} ${String(result.events).padStart(8)} ${String(result.appends).padStart(8)} ${result.usPerTask.toFixed(1).padStart(8)} ${result.peakRssMb.toFixed(0).padStart(12)} ${(result.warmSeconds?.toFixed(3) ?? '-').padStart(7)}`,
    );
  }
  const small = results.find((r) => r.name === 'fanout-1000');
  const big = results.find((r) => r.name === 'fanout-100000');
  if (small && big) console.log(`cost per task 100k / 1k: ${(big.usPerTask / small.usPerTask).toFixed(2)}x (target ≤ 1.5x)`);
  return results;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [name, ...rest] = process.argv.slice(2);
  // Any `fanout-N` runs even when it is not in the table (memory profiling at 20k/50k).
  const adHoc = /^fanout-(\d+)$/.exec(name ?? '');
  const workload = WORKLOADS.find((w) => w.name === name) ?? (adHoc ? fanout(Number(adHoc[1])) : undefined);
  const warm = rest.length === 1 && rest[0] === WARM_FLAG;
  if (workload !== undefined && (rest.length === 0 || warm)) {
    if (warm) await runWorkload(workload);
    console.log(JSON.stringify(await runWorkload(workload)));
  } else {
    await main(process.argv.slice(2));
  }
}
