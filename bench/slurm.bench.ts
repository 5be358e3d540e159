// Slurm commands per poll interval with N active jobs (issue 7 target: ONE squeue, not N).
// Needs the Debian Slurm packages and root (see harness/slurm.ts); prints a table.
// Run: npx tsx bench/slurm.bench.ts [jobs=200] [intervals=3]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { OperatorEntry } from '../workspace/operators-config.ts';
import type { OperatorContext, PollResult } from '../operators/operator.ts';
import { LocalCommandRunner, type CommandResult, type CommandRunner, type RunOptions } from '../operators/slurm/command-runner.ts';
import { SlurmOperator } from '../operators/slurm/slurm-operator.ts';
import { TaskSpecSchema } from '../events/workflow.ts';
import { slurmUnavailableReason, startSlurm } from '../harness/slurm.ts';

/** A runner that counts the commands it runs, by program name. */
class CountingRunner implements CommandRunner {
  readonly remote = false;
  readonly target = 'local (counted)';
  readonly counts = new Map<string, number>();
  private readonly inner = new LocalCommandRunner();
  run(argv: readonly string[], options?: RunOptions): Promise<CommandResult> {
    this.counts.set(argv[0]!, (this.counts.get(argv[0]!) ?? 0) + 1);
    return this.inner.run(argv, options);
  }
  push(): Promise<void> {
    return Promise.resolve();
  }
  pull(): Promise<void> {
    return Promise.resolve();
  }
  take(): Record<string, number> {
    const out = Object.fromEntries(this.counts);
    this.counts.clear();
    return out;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function main(jobs = Number(process.argv[2] ?? 200), intervals = Number(process.argv[3] ?? 3)): Promise<void> {
  const why = slurmUnavailableReason();
  if (why !== null) {
    console.log(`slurm bench skipped: ${why}`);
    return;
  }
  const cluster = await startSlurm({ cpus: 16 });
  Object.assign(process.env, cluster.env);
  const ws = mkdtempSync(path.join(tmpdir(), 'ms-slurm-bench-'));
  const intervalMs = 1000;
  const entry: OperatorEntry = {
    kind: 'hpc',
    backend: { type: 'slurm', workspace_root: '/tmp', slurm: {}, sbatch_options: [], modules: [], poll_interval_seconds: intervalMs / 1000 },
    maxConcurrent: null,
  };
  const runner = new CountingRunner();
  const op = new SlurmOperator('hpc.bench', entry, { runner });
  try {
    const contexts: OperatorContext[] = [];
    const t0 = Date.now();
    for (let i = 0; i < jobs; i++) {
      const task = TaskSpecSchema.parse({ id: `job${i}`, command: 'sleep 600', timeLimitMinutes: 30 });
      const attemptId = `job${i}-a1`;
      const ctx: OperatorContext = {
        runId: 'bench',
        attempt: { attemptId, taskId: task.id, dir: path.join(ws, 'runs', 'bench', 'attempts', task.id, attemptId) },
        task,
        workspaceDir: ws,
        runDir: path.join(ws, 'runs', 'bench'),
        operatorKey: 'hpc.bench',
        config: entry,
      };
      await op.prepare(ctx);
      await op.submit(ctx);
      contexts.push(ctx);
    }
    const submitSeconds = (Date.now() - t0) / 1000;
    const submitCounts = runner.take();

    // Live mode: every attempt watched; the poller runs one squeue per interval for all of them.
    const seen = new Map<string, PollResult>();
    const stops = contexts.map((ctx) => op.watch(ctx, (r) => seen.set(ctx.attempt.attemptId, r)));
    await sleep(300); // the initial status of every watcher
    runner.take();
    const perInterval: Record<string, number>[] = [];
    for (let i = 0; i < intervals; i++) {
      await sleep(intervalMs);
      perInterval.push(runner.take());
    }
    for (const stop of stops) stop();

    // Step mode: the host polls each attempt in turn; the shared snapshot still answers for all.
    await sleep(intervalMs);
    runner.take();
    const s0 = Date.now();
    for (const ctx of contexts) await op.poll(ctx);
    const stepMs = Date.now() - s0;
    const stepCounts = runner.take();

    const statuses = new Map<string, number>();
    for (const r of seen.values()) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    const fmt = (c: Record<string, number>): string => Object.entries(c).map(([k, v]) => `${k}=${v}`).join(' ') || '(none)';
    console.log(`\nSlurm operator: commands per poll interval with ${jobs} active jobs (interval ${intervalMs} ms)`);
    console.log(`submit: ${jobs} jobs in ${submitSeconds.toFixed(1)} s (${fmt(submitCounts)})`);
    console.log(`watched attempts by status: ${[...statuses].map(([k, v]) => `${k}=${v}`).join(' ')}`);
    perInterval.forEach((c, i) => console.log(`live interval ${i + 1}: ${fmt(c)}`));
    const total = perInterval.reduce((n, c) => n + Object.values(c).reduce((a, b) => a + b, 0), 0);
    console.log(`live: ${(total / intervals).toFixed(2)} Slurm commands per interval for ${jobs} jobs (target: 1 squeue, not ${jobs})`);
    console.log(`step mode: ${jobs} polls in ${stepMs} ms -> ${fmt(stepCounts)}`);
  } finally {
    await cluster.stop();
    rmSync(ws, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
