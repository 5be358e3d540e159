import { afterAll, describe, expect, it } from 'vitest';
import { defaultOperatorsConfig, type OperatorsConfig } from '../workspace/operators-config.ts';
import { nextCycleSeconds } from '../cli/next-cycle.ts';
import type { RunStatusView, TaskView } from '../projections/queries.ts';
import { runCli } from './harness/cli.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

// "waiting (next cycle in N s)": N is the poll interval of the operators the run waits on, not a constant.
const roots: TempRoot[] = [];
afterAll(() => roots.forEach((r) => r.cleanup()));

function task(id: string, status: TaskView['status'], operatorKey: string): TaskView {
  return { id, status, statusReason: null, operatorKey, attempts: 1, currentAttemptId: null, iteration: 0, order: 0, kind: 'compute', dependencies: [], message: null, spec: null, updatedAt: null };
}
function view(tasks: TaskView[]): RunStatusView {
  return { runId: 'r1', workspace: 'lab', status: 'RUNNING', statusReason: null, phase: 'waiting', iteration: 0, maxConcurrent: null, createdAt: null, updatedAt: null, lastSeq: 1, tasks, counts: {} };
}

describe('the next cycle of a waiting run', () => {
  it('is the soonest poll interval of the operators of its active tasks', () => {
    const config: OperatorsConfig = defaultOperatorsConfig();
    config.operators['local.default']!.pollIntervalSeconds = 7;
    config.operators['hpc.cluster'] = { kind: 'hpc', backend: { type: 'slurm', workspace_root: '/w', slurm: {}, sbatch_options: [], modules: [] }, maxConcurrent: null };
    expect(nextCycleSeconds(config, view([task('a', 'RUNNING', 'local.default')]))).toBe(7);
    expect(nextCycleSeconds(config, view([task('b', 'RUNNING', 'hpc.cluster')]))).toBe(30);
    expect(nextCycleSeconds(config, view([task('a', 'RUNNING', 'local.default'), task('b', 'WAITING_EXTERNAL', 'hpc.cluster')]))).toBe(7);
    // Finished tasks are not polled; with nothing active the loop looks again every second.
    expect(nextCycleSeconds(config, view([task('a', 'COMPLETED', 'local.default')]))).toBe(1);
  });

  it('loop shows the interval of operators.yaml', { timeout: 120_000 }, async () => {
    const temp = tempRoot('ms-next-cycle-');
    roots.push(temp);
    temp.workspace('lab', oneWorkflowCampaign([{ id: 'slow', command: 'sleep 3' }]), 'operators:\n  local.default:\n    kind: local\n    poll_interval_seconds: 2.5\n');
    expect((await runCli(['init', 'lab', '--run-id', 'n1'], { root: temp.root })).code).toBe(0);
    const loop = await runCli(['loop', 'n1', '--json'], { root: temp.root });
    expect(loop.code, loop.stderr).toBe(0);
    const progress = loop.stdout.split('\n').filter((l) => l.includes('"progress"')).map((l) => JSON.parse(l) as { where: string; counts: Record<string, number> });
    const whileRunning = progress.filter((p) => (p.counts.RUNNING ?? 0) > 0 && p.where.startsWith('waiting')).map((p) => p.where);
    expect(whileRunning.length, loop.stdout).toBeGreaterThan(0);
    expect(new Set(whileRunning)).toEqual(new Set(['waiting (next cycle in 2.5 s)']));
  });
});
