import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { describeUnreachable, SlurmOperator } from '../operators/slurm/slurm-operator.ts';
import { LocalCommandRunner, SshCommandRunner, TransientClusterError } from '../operators/slurm/command-runner.ts';
import { SLURM_FILES } from '../operators/slurm/batch-script.ts';
import { initializeRun, openRun, sendCommand, type RunHandle } from '../host/run-lifecycle.ts';
import { runUntilCompletion } from '../host/drive-run.ts';
import { listAttempts } from '../projections/queries.ts';
import { freePort } from '../harness/free-port.ts';
import { slurmUnavailableReason, sshdUnavailableReason, startSlurm, startSshd, type SlurmCluster, type SshServer } from '../harness/slurm.ts';
import { oneWorkflowCampaign, tempRoot } from './harness/workspace.ts';
import { contextFor } from './operators-helpers.ts';
import { liveJobs, slurmOperatorsYaml, useCluster } from './slurm-fixtures.ts';
import { explainRun, formatExplanation } from '../views/index.ts';

// One real cluster (and one sshd) for the whole file; the tests run concurrently so the file
// takes about as long as its slowest test (a real TIMEOUT needs Slurm's 1-minute granularity).
const skip = slurmUnavailableReason();
if (skip !== null) console.warn(`[slurm.e2e] SKIPPED: ${skip}`);
const skipSsh = skip ?? sshdUnavailableReason();
if (skip === null && skipSsh !== null) console.warn(`[slurm.e2e] SSH tests SKIPPED: ${skipSsh}`);
const TSX = path.join(import.meta.dirname, '..', 'node_modules', '.bin', 'tsx');
const CHILD = path.join(import.meta.dirname, 'harness', 'slurm-crash-child.ts');

let cluster: SlurmCluster;
let sshd: SshServer | undefined;
let remoteRoot: string | undefined;
const roots: { cleanup(): void }[] = [];

beforeAll(async () => {
  if (skip !== null) return;
  cluster = await startSlurm({ minJobAge: 10 });
  useCluster(cluster);
  if (skipSsh === null) {
    // The "login node": its sessions get the cluster's SLURM_CONF (SetEnv).
    sshd = await startSshd({ SLURM_CONF: cluster.conf, PATH: '/usr/local/bin:/usr/bin:/bin' });
    remoteRoot = mkdtempSync(path.join(tmpdir(), 'ms-remote-'));
  }
}, 60_000);

afterAll(async () => {
  await sshd?.stop();
  await cluster?.stop();
  for (const root of roots) root.cleanup();
  if (remoteRoot !== undefined) rmSync(remoteRoot, { recursive: true, force: true });
});

/** A workspace on the test cluster with a one-workflow campaign. */
async function slurmRun(runId: string, tasks: unknown[], yaml = slurmOperatorsYaml()): Promise<RunHandle> {
  const temp = tempRoot('ms-slurm-e2e-');
  roots.push(temp);
  temp.workspace('ws', oneWorkflowCampaign(tasks), yaml);
  return initializeRun({ root: temp.root, workspace: 'ws', runId });
}

async function attempts(run: RunHandle) {
  return listAttempts(await run.store.views(), run.runId);
}

const slurmForgot = (jobId: string): boolean => {
  try {
    const out = cluster.exec(['scontrol', '-o', 'show', 'job', jobId]);
    return !out.includes(`JobId=${jobId}`);
  } catch {
    return true; // "Invalid job id specified"
  }
};

describe.skipIf(skip !== null).concurrent('Slurm operator on a real one-node Slurm', () => {
  it("a job sees the task's env and the allow-list, none of the orchestrator's secrets; markers stay in .matterstack/", async () => {
    // Not MATTERSTACK_NATS_URL here: the concurrent tests' runs would read it.
    const secrets = { MS_ORCHESTRATOR_PASSWORD: 'orchestrator-pw', SOME_API_TOKEN: 'orchestrator-pw-token' };
    Object.assign(process.env, secrets);
    const run = await slurmRun('envdump', [{ id: 'e', command: 'env > env.txt; echo 0 > exit_code; exit 4', env: { DECLARED: 'yes' } }]);
    try {
      expect(await runUntilCompletion(run)).toBe('FAILED');
      const [row] = await attempts(run);
      expect(row?.reason).toMatch(/exit code 4/);
      const dir = path.join(run.runDir, 'attempts', 'e', row!.attemptId);
      const env = readFileSync(path.join(dir, 'env.txt'), 'utf8');
      expect(env).not.toContain('orchestrator-pw');
      expect(env).toContain('DECLARED=yes\n');
      expect(env).toContain('MATTERSTACK_ATTEMPT_ID=');
      expect(readFileSync(path.join(dir, SLURM_FILES.exitCode), 'utf8').trim()).toBe('4');
      expect(readFileSync(path.join(dir, 'exit_code'), 'utf8').trim()).toBe('0');
    } finally {
      for (const key of Object.keys(secrets)) delete process.env[key];
      await run.close();
    }
  }, 90_000);

  it('a DAG campaign completes through the library (sbatch, one squeue per interval, results collected)', async () => {
    const tasks = [
      { id: 'a', command: 'echo "{\\"x\\": 1}" > results.json; echo from-a', cores: 1, memoryGb: 0.5, timeLimitMinutes: 5, env: { GREETING: "it's me" } },
      { id: 'b', command: 'echo "$GREETING" > b.txt', dependencies: ['a'], env: { GREETING: 'hello b' } },
      { id: 'c', command: ['sh', '-c', 'echo c > c.txt'], dependencies: ['a'] },
      { id: 'd', command: 'cat ../../b/*/b.txt > d.txt 2>/dev/null; echo done > d.txt', dependencies: ['b', 'c'] },
    ];
    const run = await slurmRun('dag', tasks);
    try {
      expect(await runUntilCompletion(run)).toBe('COMPLETED');
      const rows = await attempts(run);
      expect(rows.map((r) => [r.taskId, r.status])).toEqual([
        ['a', 'COMPLETED'],
        ['b', 'COMPLETED'],
        ['c', 'COMPLETED'],
        ['d', 'COMPLETED'],
      ]);
      for (const row of rows) expect(row.externalId).toMatch(/^\d+$/);
      const a = rows[0]!;
      expect(a.results?.data).toEqual({ x: 1 });
      const dir = path.join(run.runDir, 'attempts', 'a', a.attemptId);
      const script = readFileSync(path.join(dir, SLURM_FILES.script), 'utf8');
      expect(script).toContain('#SBATCH --time=5');
      expect(script).toContain('#SBATCH --cpus-per-task=1');
      expect(script).toContain('#SBATCH --mem=512M');
      expect(script).toContain('#SBATCH --partition=debug');
      expect(script).toContain('#SBATCH --nodes=1');
      expect(script).toContain(`export GREETING='it'\\''s me'`);
      expect(readFileSync(path.join(dir, 'stdout.log'), 'utf8')).toContain('from-a');
      expect(readFileSync(path.join(dir, SLURM_FILES.exitCode), 'utf8').trim()).toBe('0');
      const b = rows[1]!;
      expect(readFileSync(path.join(run.runDir, 'attempts', 'b', b.attemptId, 'b.txt'), 'utf8')).toBe('hello b\n');
      expect(Object.keys(rows[2]!.results?.files ?? {})).toContain('c.txt');
      // The job name is the attempt id.
      await vi.waitFor(() => expect(cluster.jobCompRecords(a.attemptId)).toHaveLength(1), { timeout: 20_000 });
    } finally {
      await run.close();
    }
  });

  it('a job over its time limit ends FAILED with TIMEOUT, and is retried once because retryOn includes TIMEOUT', async () => {
    const markDir = mkdtempSync(path.join(tmpdir(), 'ms-slurm-mark-'));
    roots.push({ cleanup: () => rmSync(markDir, { recursive: true, force: true }) });
    const mark = path.join(markDir, 'first-try');
    const command = `if [ -e ${mark} ]; then echo second > out.txt; else touch ${mark}; sleep 300; fi`;
    const run = await slurmRun('timeout', [{ id: 'slow', command, timeLimitMinutes: 0.1, retries: 1, retryOn: ['TIMEOUT'], retryBackoffSeconds: 0.5 }]);
    try {
      expect(await runUntilCompletion(run)).toBe('COMPLETED');
      const rows = await attempts(run);
      expect(rows.map((r) => r.status)).toEqual(['FAILED', 'COMPLETED']);
      expect(rows[0]?.reason).toMatch(/^TIMEOUT: Slurm job \d+/);
      expect(rows[1]?.attemptId).toBe('slow-a2');
      expect(readFileSync(path.join(run.runDir, 'attempts', 'slow', 'slow-a2', 'out.txt'), 'utf8')).toBe('second\n');
    } finally {
      await run.close();
    }
  }, 150_000);

  it('cancel kills the running job through scancel; the attempt ends CANCELLED', async () => {
    const run = await slurmRun('cancel', [{ id: 'long', command: 'sleep 300' }]);
    try {
      const loop = runUntilCompletion(run);
      const row = await vi.waitFor(async () => {
        const found = (await attempts(run)).find((r) => r.status === 'RUNNING');
        if (found === undefined) throw new Error('no attempt is RUNNING yet');
        return found;
      }, { timeout: 30_000 });
      const jobId = row.externalId!;
      expect(liveJobs(cluster).get(jobId)).toBe('RUNNING');
      expect((await sendCommand(run, { type: 'CMD.CANCEL', by: 'test' })).accepted).toBe(true);
      expect(await loop).toBe('CANCELLED');
      const [after] = await attempts(run);
      expect(after?.status).toBe('CANCELLED');
      const state = liveJobs(cluster).get(jobId);
      expect(state === undefined || state === 'CANCELLED').toBe(true);
      await vi.waitFor(() => expect(cluster.jobCompRecords(row.attemptId).join('\n')).toContain('JobState=CANCELLED'), { timeout: 20_000 });
    } finally {
      await run.close();
    }
  });

  it('a job that finished while the orchestrator was down and that Slurm forgot is COMPLETED from its exit-code file', async () => {
    const run = await slurmRun('forgot', [{ id: 'quick', command: 'echo ok > out.txt' }]);
    try {
      const stop = new AbortController();
      const loop = runUntilCompletion(run, { signal: stop.signal });
      const row = await vi.waitFor(async () => {
        const found = (await attempts(run)).find((r) => r.externalId !== null);
        if (found === undefined) throw new Error('no attempt is submitted yet');
        return found;
      }, { timeout: 30_000 });
      stop.abort();
      await loop;
      const jobId = row.externalId!;
      await vi.waitFor(() => expect(slurmForgot(jobId), `Slurm forgetting job ${jobId}`).toBe(true), { timeout: 120_000, interval: 500 });
      expect(await runUntilCompletion(run)).toBe('COMPLETED');
      const [after] = await attempts(run);
      expect(after?.status).toBe('COMPLETED');
      expect(Object.keys(after?.results?.files ?? {})).toContain('out.txt');
    } finally {
      await run.close();
    }
  }, 150_000);

  it('a crash between sbatch and the log adopts the job by name: one job in Slurm records', async () => {
    const run = await slurmRun('crash', [{ id: 'job', command: 'sleep 2; echo adopted > out.txt' }]);
    const root = path.dirname(run.workspaceDir);
    await run.close();
    const child = spawn(TSX, [CHILD, root, 'ws', 'crash'], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const exit = await new Promise<string>((resolve) => child.on('exit', (code, sig) => resolve(`${code}/${sig}`)));
    // tsx runs the script in a child node process: the SIGKILL shows as exit 137 or as the signal.
    expect(exit, err).toMatch(/^(137\/null|null\/SIGKILL)$/);
    expect(out).not.toContain('NOT KILLED');
    const jobId = /SBATCHED (\d+)/.exec(out)?.[1];
    expect(jobId).toBeDefined();

    const again = await openRun({ root, runId: 'crash' });
    try {
      // Before the restart the log has no submission for the attempt.
      const before = await attempts(again);
      expect(before).toHaveLength(1);
      expect(before[0]?.externalId).toBeNull();
      expect(await runUntilCompletion(again)).toBe('COMPLETED');
      const rows = await attempts(again);
      expect(rows).toHaveLength(1);
      expect(rows[0]?.externalId).toBe(jobId);
      expect(rows[0]?.operatorData).toMatchObject({ adopted: true });
      const name = rows[0]!.attemptId;
      await vi.waitFor(() => expect(cluster.jobCompRecords(name).length).toBeGreaterThanOrEqual(1), { timeout: 20_000 });
      expect(cluster.jobCompRecords(name)).toHaveLength(1);
    } finally {
      await again.close();
    }
  }, 90_000);

  it('a job Slurm does not know and that left no exit code is FAILED "lost" after the grace period', async () => {
    const temp = tempRoot('ms-slurm-lost-');
    roots.push(temp);
    const ctx = contextFor(temp.root, { id: 'ghost', command: 'true' }, {
      kind: 'hpc',
      backend: { type: 'slurm', workspace_root: '/tmp', slurm: {}, sbatch_options: [], modules: [], poll_interval_seconds: 1 },
    });
    const op = new SlurmOperator('hpc.cluster', ctx.config, { lostGraceMs: 1500 });
    await op.prepare(ctx);
    writeFileSync(path.join(ctx.attempt.dir, SLURM_FILES.job), JSON.stringify({ jobId: '987654', submittedAt: new Date().toISOString() }));
    expect((await op.poll(ctx)).status).toBe('CREATED'); // no news yet (grace period)
    const lost = await vi.waitFor(async () => {
      const r = await op.poll(ctx);
      expect(r.status).toBe('FAILED');
      return r;
    }, { timeout: 10_000 });
    expect(lost.reason).toMatch(/^lost: Slurm job 987654 is no longer known to Slurm/);
    expect(existsSync(path.join(ctx.attempt.dir, SLURM_FILES.exitCode))).toBe(false);
  });
  // Outages: each test gets its own PATH mirror, so hiding a command there affects that test only.
  it('outage: squeue and scontrol missing while a job runs; the attempt stays RUNNING and completes once they are back', async () => {
    const bin = cluster.privatePath();
    const registry = { slurm: { runner: new LocalCommandRunner({ env: { PATH: bin.path } }), initialBackoffMs: 200, maxBackoffMs: 1000 } };
    const run = await slurmRun('outage', [{ id: 'work', command: 'sleep 4; echo ok > out.txt' }]);
    try {
      const loop = runUntilCompletion(run, { registry });
      const row = await vi.waitFor(async () => {
        const found = (await attempts(run)).find((r) => r.status === 'RUNNING');
        if (found === undefined) throw new Error('no attempt is RUNNING yet');
        return found;
      }, { timeout: 30_000 });
      const restore = [bin.hide('squeue'), bin.hide('scontrol')];
      // The job ends while Slurm cannot be asked; the attempt stays active meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 6000));
      expect((await attempts(run)).map((r) => r.status)).toEqual(['RUNNING']);
      const dir = path.join(run.runDir, 'attempts', 'work', row.attemptId);
      expect(await describeUnreachable(dir)).toMatch(/^cluster unreachable since \S+Z, retry \d+: squeue: command not found/);
      expect(formatExplanation(await explainRun(run))).toMatch(/cluster unreachable since \S+Z, retry \d+/);
      for (const undo of restore) undo();
      expect(await loop).toBe('COMPLETED');
      const [after] = await attempts(run);
      expect(after?.attemptId).toBe(row.attemptId);
      expect(after?.status).toBe('COMPLETED');
      expect(await describeUnreachable(dir)).toBeNull();
    } finally {
      await run.close();
    }
  });

  it('outage: sbatch missing at submission; the attempt stays CREATED, is retried with backoff, then submitted', async () => {
    const bin = cluster.privatePath();
    const registry = { slurm: { runner: new LocalCommandRunner({ env: { PATH: bin.path } }), initialBackoffMs: 200, maxBackoffMs: 1000 } };
    const run = await slurmRun('nosbatch', [{ id: 'later', command: 'echo ok' }]);
    const restore = bin.hide('sbatch');
    try {
      const loop = runUntilCompletion(run, { registry });
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect((await attempts(run)).map((r) => r.status)).toEqual(['CREATED']);
      restore();
      expect(await loop).toBe('COMPLETED');
      expect((await attempts(run)).map((r) => r.status)).toEqual(['COMPLETED']);
    } finally {
      await run.close();
    }
  });

  it('outage: the operator reports "cluster unreachable since <time>, retry <n>" and recovers', async () => {
    const bin = cluster.privatePath();
    const entry = { kind: 'hpc' as const, backend: { type: 'slurm' as const, workspace_root: '/tmp', slurm: {}, sbatch_options: [], modules: [] }, maxConcurrent: null };
    const op = new SlurmOperator('hpc.cluster', entry, { runner: new LocalCommandRunner({ env: { PATH: bin.path } }) });
    const restore = bin.hide('squeue');
    await expect(op.poller.jobs(0)).rejects.toMatchObject({ details: { transient: true } });
    await expect(op.poller.jobs(0)).rejects.toThrow(/squeue: command not found/);
    expect(op.describeHealth()).toMatch(/^cluster unreachable since \d{4}-\d\d-\d\dT[\d:.]+Z, retry 2/);
    restore();
    await op.poller.jobs(0);
    expect(op.describeHealth()).toBeNull();
  });
});

const sshSettings = () => ({ host: sshd!.host, port: sshd!.port, user: sshd!.user, keyPath: sshd!.keyPath, knownHosts: sshd!.knownHosts });

describe.skipIf(skipSsh !== null).concurrent('Slurm over SSH (a real sshd on loopback in front of the same Slurm)', () => {
  it("a job directory on the cluster bound to another workspace's run of the same id is refused, nothing submitted", async () => {
    const remote = path.join(remoteRoot!, 'clash', 'x', 'x-a1');
    mkdirSync(path.join(remote, '.matterstack'), { recursive: true });
    writeFileSync(path.join(remote, '.matterstack', 'attempt.json'), JSON.stringify({ runId: 'clash', taskId: 'x', attemptId: 'x-a1', workspace: '/elsewhere/ws' }));
    writeFileSync(path.join(remote, '.matterstack', 'exit_code'), '0\n');
    const run = await slurmRun('clash', [{ id: 'x', command: 'echo ran > ran.txt' }], slurmOperatorsYaml({ ssh: sshSettings(), workspaceRoot: remoteRoot! }));
    try {
      expect(await runUntilCompletion(run)).toBe('FAILED');
      const [row] = await attempts(run);
      expect(row?.reason).toMatch(/belongs to another attempt: workspace \/elsewhere\/ws \(expected .*\); refusing to take its markers or results/);
      expect(existsSync(path.join(remote, 'ran.txt'))).toBe(false);
      expect(existsSync(path.join(remote, 'stdout.log'))).toBe(false);
    } finally {
      await run.close();
    }
  }, 60_000);

  it('a campaign completes over ssh: files staged to the remote work dir, results fetched back', async () => {
    const tasks = [
      { id: 'stage', command: 'cat input.txt > copy.txt; echo "{\\"n\\": 2}" > results.json', files: { 'input.txt': 'staged content\n' } },
      { id: 'fail', command: 'exit 3', allowFailure: true },
      { id: 'after', command: 'echo after > out.txt', dependencies: ['stage'] },
    ];
    // This worker's own SLURM_CONF is not used: the commands run in the ssh session.
    const run = await slurmRun('ssh', tasks, slurmOperatorsYaml({ ssh: sshSettings(), workspaceRoot: remoteRoot! }));
    try {
      expect(await runUntilCompletion(run)).toBe('COMPLETED');
      const rows = await attempts(run);
      expect(rows.map((r) => [r.taskId, r.status])).toEqual([
        ['stage', 'COMPLETED'],
        ['fail', 'FAILED'],
        ['after', 'COMPLETED'],
      ]);
      expect(rows[1]?.reason).toMatch(/^FAILED: Slurm job \d+, exit code 3/);
      const stage = rows[0]!;
      expect(stage.operatorData).toMatchObject({ target: `ssh root@127.0.0.1:${sshd!.port}` });
      expect(stage.results?.data).toEqual({ n: 2 });
      // The job ran in the remote work dir...
      const remote = path.join(remoteRoot!, 'ssh', 'stage', stage.attemptId);
      expect(readFileSync(path.join(remote, 'copy.txt'), 'utf8')).toBe('staged content\n');
      // ...and its outputs came back into the local attempt directory.
      const local = path.join(run.runDir, 'attempts', 'stage', stage.attemptId);
      expect(readFileSync(path.join(local, 'copy.txt'), 'utf8')).toBe('staged content\n');
      expect(readFileSync(path.join(local, SLURM_FILES.exitCode), 'utf8').trim()).toBe('0');
      expect(Object.keys(stage.results?.files ?? {})).toEqual(expect.arrayContaining(['copy.txt', 'stdout.log']));
      expect(readFileSync(path.join(local, SLURM_FILES.script), 'utf8')).toContain(`cd ${remote}`);
    } finally {
      await run.close();
    }
  });

  it('an unknown host key is an error (strict checking) that says how to trust it', async () => {
    const runner = new SshCommandRunner({ ...sshSettings(), knownHosts: sshd!.emptyKnownHosts });
    const error = await runner.run(['squeue']).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(TransientClusterError);
    expect((error as Error).message).toContain('not trusted');
    expect((error as Error).message).toContain(`ssh-keyscan -p ${sshd!.port} 127.0.0.1 >> ${sshd!.emptyKnownHosts}`);
  });

  it('a refused connection is transient (retried, never failing a task by itself)', async () => {
    const runner = new SshCommandRunner({ ...sshSettings(), port: await freePort() });
    await expect(runner.run(['squeue'])).rejects.toBeInstanceOf(TransientClusterError);
  });
});
