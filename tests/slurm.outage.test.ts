import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initializeRun, runUntilCompletion, type RunHandle } from '../actors/run-lifecycle.ts';
import { OperatorRegistry } from '../actors/operators/operator-registry.ts';
import { loadOperatorsConfig } from '../actors/config/operators-config.ts';
import type { SlurmOperator } from '../actors/operators/slurm/slurm-operator.ts';
import { listAttempts } from '../projections/queries.ts';
import { slurmUnavailableReason, startSlurm, type SlurmCluster } from './harness/slurm.ts';
import { oneWorkflowCampaign, tempRoot, waitFor } from './harness/workspace.ts';
import { slurmOperatorsYaml, useCluster } from './slurm-fixtures.ts';

const skip = slurmUnavailableReason();
if (skip !== null) console.warn(`[slurm.outage] SKIPPED: ${skip}`);

let cluster: SlurmCluster;
const roots: { cleanup(): void }[] = [];

beforeAll(async () => {
  if (skip !== null) return;
  cluster = await startSlurm({ minJobAge: 10 });
  useCluster(cluster);
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  for (const root of roots) root.cleanup();
});

async function slurmRun(runId: string, tasks: unknown[]): Promise<RunHandle> {
  const temp = tempRoot('ms-slurm-outage-');
  roots.push(temp);
  temp.workspace('ws', oneWorkflowCampaign(tasks), slurmOperatorsYaml({ lostGraceSeconds: 30 }));
  return initializeRun({ root: temp.root, workspace: 'ws', runId });
}

const fastRetry = { slurm: { initialBackoffMs: 200, maxBackoffMs: 1000 } };

// These tests rename Slurm commands on this worker's PATH: they run one after the other.
describe.skipIf(skip !== null)('Slurm outages are transient: retried, never failing the task', () => {
  it('squeue and scontrol missing while a job runs: the task still completes once they are back', async () => {
    const run = await slurmRun('outage', [{ id: 'work', command: 'sleep 4; echo ok > out.txt' }]);
    try {
      let restore: (() => void)[] = [];
      const loop = runUntilCompletion(run, { registry: fastRetry });
      const row = await waitFor(async () => listAttempts(await run.store.views(), run.runId).find((r) => r.status === 'RUNNING'), 30_000, 'RUNNING');
      restore = [cluster.hideCommand('squeue'), cluster.hideCommand('scontrol')];
      // The job ends while Slurm cannot be asked; the attempt stays active meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 6000));
      const during = listAttempts(await run.store.views(), run.runId);
      expect(during.map((r) => r.status)).toEqual(['RUNNING']);
      for (const undo of restore) undo();
      expect(await loop).toBe('COMPLETED');
      const [after] = listAttempts(await run.store.views(), run.runId);
      expect(after?.attemptId).toBe(row.attemptId);
      expect(after?.status).toBe('COMPLETED');
    } finally {
      await run.close();
    }
  }, 60_000);

  it('sbatch missing at submission: the attempt stays CREATED, is retried with backoff, then submitted', async () => {
    const run = await slurmRun('nosbatch', [{ id: 'later', command: 'echo ok' }]);
    const restore = cluster.hideCommand('sbatch');
    try {
      const loop = runUntilCompletion(run, { registry: fastRetry });
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const during = listAttempts(await run.store.views(), run.runId);
      expect(during.map((r) => r.status)).toEqual(['CREATED']);
      restore();
      expect(await loop).toBe('COMPLETED');
      expect(listAttempts(await run.store.views(), run.runId).map((r) => r.status)).toEqual(['COMPLETED']);
    } finally {
      await run.close();
    }
  }, 60_000);

  it('the operator reports the outage: "cluster unreachable since <time>, retry <n>"', async () => {
    const temp = tempRoot('ms-slurm-health-');
    roots.push(temp);
    const dir = temp.workspace('ws', oneWorkflowCampaign([]), slurmOperatorsYaml());
    const registry = OperatorRegistry.fromConfig(loadOperatorsConfig({ workspaceDir: dir }));
    const op = registry.require('hpc.cluster').operator as SlurmOperator;
    const restore = cluster.hideCommand('squeue');
    try {
      await expect(op.poller.jobs(0)).rejects.toMatchObject({ details: { transient: true } });
      await expect(op.poller.jobs(0)).rejects.toThrow(/squeue: command not found/);
      expect(op.describeHealth()).toMatch(/^cluster unreachable since \d{4}-\d\d-\d\dT[\d:.]+Z, retry 2/);
    } finally {
      restore();
    }
    await op.poller.jobs(0);
    expect(op.describeHealth()).toBeNull();
  });
});
