import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAttemptCgroup, removeCgroup } from '../operators/attempt-cgroup.ts';
import { HumanOperator } from '../operators/human-operator.ts';
import { LocalOperator } from '../operators/local-operator.ts';
import type { OperatorContext, PollResult } from '../operators/operator.ts';
import { isAttemptGroupId, isProcessAlive, readProcStat } from '../operators/process-group.ts';
import { renderBatchScript, SLURM_FILES } from '../operators/slurm/batch-script.ts';
import { LocalCommandRunner } from '../operators/slurm/command-runner.ts';
import type { TaskSpecInput } from '../events/workflow.ts';
import { contextFor, killLeftover, pidIn, tempWorkspace } from './operators-helpers.ts';

const operator = (): LocalOperator => new LocalOperator({ pollIntervalMs: 50, killGraceMs: 300 });
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function start(task: TaskSpecInput, ws = tempWorkspace()): Promise<{ ctx: OperatorContext; op: LocalOperator }> {
  const op = operator();
  const ctx = contextFor(ws, task);
  await op.prepare(ctx);
  await op.submit(ctx);
  // Cleanup only: an attempt that already ended (or never started) has nothing left to stop.
  cleanups.push(() => op.cancel(ctx).catch(() => undefined));
  return { ctx, op };
}

async function untilDone(op: LocalOperator, ctx: OperatorContext): Promise<PollResult> {
  return vi.waitFor(async () => {
    const result = await op.poll(ctx);
    expect(['COMPLETED', 'FAILED', 'CANCELLED']).toContain(result.status);
    return result;
  }, { timeout: 5000, interval: 20 });
}

const read = (ctx: OperatorContext, name: string): string => readFileSync(path.join(ctx.attempt.dir, name), 'utf8');
/** The wrapper's pid from the start marker, once written (submit answers before the wrapper records it). */
const pidOf = (ctx: OperatorContext): Promise<number> =>
  vi.waitFor(() => (JSON.parse(read(ctx, '.matterstack/started.json')) as { pid: number }).pid, { timeout: 5000, interval: 10 });

/** Sets orchestrator variables for one test (the operator runs in this process). */
function withEnv(vars: Record<string, string>): void {
  const before = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]));
  Object.assign(process.env, vars);
  cleanups.push(() => {
    for (const [key, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });
}

describe("an attempt's bookkeeping is not the task's files", () => {
  it('a task writing started.json, exit_code and killed.json in its folder is neither lost nor finished by them', async () => {
    const { ctx, op } = await start({
      id: 'liar',
      command: `printf '{"pid":1,"procStartTime":1,"startedAt":"x"}' > started.json; echo 0 > exit_code; echo '{"status":"CANCELLED","reason":"fake"}' > killed.json; touch wrote; sleep 0.4; exit 3`,
    });
    await vi.waitFor(() => expect(existsSync(path.join(ctx.attempt.dir, 'wrote'))).toBe(true), { timeout: 5000, interval: 20 });
    expect(await op.poll(ctx)).toEqual({ status: 'RUNNING' });
    const result = await untilDone(op, ctx);
    expect(result).toEqual({ status: 'FAILED', reason: 'exit code 3' });
    const collected = await op.collectResults(ctx);
    // The task's own files are results like any other; no marker is.
    expect(Object.keys(collected.files).sort()).toEqual(['exit_code', 'killed.json', 'started.json', 'stderr.log', 'stdout.log', 'wrote']);
    expect(read(ctx, 'exit_code').trim()).toBe('0');
  });

  it("the Slurm batch script records the exit code in the marker folder, leaving the task's exit_code alone", () => {
    const ws = tempWorkspace();
    const jobDir = path.join(ws, 'job');
    mkdirSync(path.join(jobDir, '.matterstack'), { recursive: true });
    const script = renderBatchScript({
      runId: 'r1',
      attemptId: 't-a1',
      task: { id: 't', command: 'echo 0 > exit_code; exit 3', env: {} } as never,
      jobDir,
      site: {},
    });
    writeFileSync(path.join(jobDir, 'submit.sh'), script);
    const ran = spawnSync('bash', [path.join(jobDir, 'submit.sh')], { cwd: jobDir });
    expect(ran.status).toBe(3);
    expect(readFileSync(path.join(jobDir, SLURM_FILES.exitCode), 'utf8').trim()).toBe('3');
    expect(readFileSync(path.join(jobDir, 'exit_code'), 'utf8').trim()).toBe('0');
  });
});

describe('a forged marker cannot aim a kill elsewhere', () => {
  it('pid 1 and this process own group and session are never an attempt group', () => {
    const own = readProcStat(process.pid);
    expect([1, 0, -1, process.pid, own?.pgrp ?? 1, own?.session ?? 1].map(isAttemptGroupId)).toEqual([false, false, false, false, false, false]);
  });
});

describe('an attempt folder is bound to its run and attempt', () => {
  it('a folder bound to another run is refused: no adoption, no results, no kill', async () => {
    const { ctx } = await start({ id: 'bound', command: 'sleep 30' });
    const pid = await pidOf(ctx);
    const other: OperatorContext = { ...contextFor(tempWorkspace(), { id: 'bound', command: 'sleep 30' }), runId: 'r2', attempt: ctx.attempt, workspaceDir: ctx.workspaceDir };
    const fresh = operator();
    await expect(fresh.submit(other)).rejects.toThrow(/belongs to another attempt: runId r1 \(expected r2\)/);
    const polled = await fresh.poll(other);
    expect(polled.status).toBe('FAILED');
    expect(polled.reason).toMatch(/belongs to another attempt: runId r1 \(expected r2\), prepared in workspace .*; refusing to take its markers or results/);
    await expect(fresh.collectResults(other)).rejects.toMatchObject({ code: 'OPERATOR_ERROR' });
    expect((await fresh.cancel(other)).status).toBe('FAILED');
    expect(isProcessAlive(pid)).toBe(true);
  });

  it("a gate's folder bound to another run does not pass its approval on", async () => {
    const ws = tempWorkspace();
    const gate = contextFor(ws, { id: 'gate', kind: 'gate' }, { kind: 'human' });
    const human = new HumanOperator();
    await human.prepare(gate);
    writeFileSync(path.join(gate.attempt.dir, 'approved.txt'), 'ok');
    expect((await human.poll(gate)).status).toBe('COMPLETED');
    const other: OperatorContext = { ...gate, runId: 'r2' };
    const polled = await new HumanOperator().poll(other);
    expect(polled.status).toBe('FAILED');
    expect(polled.reason).toMatch(/belongs to another attempt: runId r1 \(expected r2\)/);
  });

  it('a folder holding files no attempt was prepared with (an old run left them) is refused, nothing runs', async () => {
    const ws = tempWorkspace();
    const ctx = contextFor(ws, { id: 'old', command: 'echo ran > ran.txt' });
    mkdirSync(ctx.attempt.dir, { recursive: true });
    writeFileSync(path.join(ctx.attempt.dir, 'manifest.json'), JSON.stringify({ run_id: 'r1', task_id: 'old', attempt_id: 'old-a1' }));
    writeFileSync(path.join(ctx.attempt.dir, 'exit_code'), '0\n');
    writeFileSync(path.join(ctx.attempt.dir, 'results.json'), '{"energy": -1}');
    const op = operator();
    const polled = await op.poll(ctx);
    expect(polled.status).toBe('FAILED');
    expect(polled.reason).toMatch(/holds files that no MatterStack attempt was prepared with/);
    await expect(op.prepare(ctx)).rejects.toMatchObject({ code: 'OPERATOR_ERROR' });
    await expect(op.submit(ctx)).rejects.toMatchObject({ code: 'OPERATOR_ERROR' });
    await expect(op.collectResults(ctx)).rejects.toMatchObject({ code: 'OPERATOR_ERROR' });
    expect(existsSync(path.join(ctx.attempt.dir, 'ran.txt'))).toBe(false);
  });

  it('a prepare that died writing its identity in place (empty) leaves the folder unused: the next instance binds it and runs the task once', async () => {
    const ws = tempWorkspace();
    const ctx = contextFor(ws, { id: 'cut', command: 'echo ran >> ran.txt' });
    mkdirSync(path.join(ctx.attempt.dir, '.matterstack'), { recursive: true });
    writeFileSync(path.join(ctx.attempt.dir, '.matterstack', 'attempt.json'), '');
    const op = operator();
    expect((await op.poll(ctx)).status).toBe('CREATED');
    await op.submit(ctx);
    // Cleanup only: an attempt that already ended has nothing left to stop.
    cleanups.push(() => op.cancel(ctx).catch(() => undefined));
    expect((await untilDone(op, ctx)).status).toBe('COMPLETED');
    expect(read(ctx, 'ran.txt')).toBe('ran\n');
    expect(JSON.parse(read(ctx, '.matterstack/attempt.json'))).toMatchObject({ runId: ctx.runId, attemptId: ctx.attempt.attemptId });
  });

  it('an identity cut short beside other files is refused; a manifest cut short is prepared again', async () => {
    const ws = tempWorkspace();
    const ctx = contextFor(ws, { id: 'cut2', command: 'true' });
    mkdirSync(path.join(ctx.attempt.dir, '.matterstack'), { recursive: true });
    writeFileSync(path.join(ctx.attempt.dir, '.matterstack', 'attempt.json'), '{"runId":"r');
    writeFileSync(path.join(ctx.attempt.dir, 'data.txt'), 'left by someone');
    expect((await operator().poll(ctx)).reason).toMatch(/holds files that no MatterStack attempt was prepared with/);

    const fresh = contextFor(ws, { id: 'cut3', command: 'true' });
    await operator().prepare(fresh);
    const manifest = path.join(fresh.attempt.dir, '.matterstack', 'manifest.json');
    writeFileSync(manifest, '{"schema_version": 2, "run_');
    await operator().prepare(fresh);
    expect(JSON.parse(readFileSync(manifest, 'utf8'))).toMatchObject({ task_id: 'cut3' });
  });
});

describe('task processes get a clean environment', () => {
  const secrets = {
    MS_ORCHESTRATOR_PASSWORD: 'orchestrator-pw',
    MATTERSTACK_NATS_URL: 'nats://orchestrator:orchestrator-pw@127.0.0.1:4222',
    SOME_API_TOKEN: `secret-${Math.random().toString(36).slice(2)}`,
  };

  it('a local task sees the allow-list, its declared env and MATTERSTACK_* task variables, none of the orchestrator secrets', async () => {
    withEnv({ ...secrets, LANG: 'C.UTF-8', TMPDIR: '/tmp' });
    const { ctx, op } = await start({ id: 'envdump', command: 'env > env.txt', env: { DECLARED: 'yes', SOME_API_TOKEN: 'declared-wins' } });
    expect((await untilDone(op, ctx)).status).toBe('COMPLETED');
    const env = Object.fromEntries(
      read(ctx, 'env.txt')
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(env.MS_ORCHESTRATOR_PASSWORD).toBeUndefined();
    expect(env.MATTERSTACK_NATS_URL).toBeUndefined();
    expect(read(ctx, 'env.txt')).not.toContain('orchestrator-pw');
    expect(read(ctx, 'env.txt')).not.toContain(secrets.SOME_API_TOKEN);
    expect(env).toMatchObject({ PATH: process.env.PATH, LANG: 'C.UTF-8', TMPDIR: '/tmp', DECLARED: 'yes', SOME_API_TOKEN: 'declared-wins' });
    expect(env).toMatchObject({ MATTERSTACK_RUN_ID: 'r1', MATTERSTACK_TASK_ID: 'envdump', MATTERSTACK_ATTEMPT_ID: 'envdump-a1', MATTERSTACK_ATTEMPT_DIR: ctx.attempt.dir });
    if (process.env.HOME !== undefined) expect(env.HOME).toBe(process.env.HOME);
  });

  it('local Slurm commands (sbatch exports its environment to the job) get no orchestrator secret either', async () => {
    withEnv({ ...secrets, SLURM_CONF: '/etc/slurm/test.conf' });
    const result = await new LocalCommandRunner({ env: { SBATCH_PARTITION: 'debug' } }).run(['env']);
    expect(result.stdout).not.toContain('orchestrator-pw');
    expect(result.stdout).not.toContain(secrets.SOME_API_TOKEN);
    expect(result.stdout).toContain('SLURM_CONF=/etc/slurm/test.conf\n');
    expect(result.stdout).toContain('SBATCH_PARTITION=debug\n');
    expect(result.stdout).toContain(`PATH=${process.env.PATH}\n`);
  });
});

describe('a kill nobody finishes (the host that began it crashed)', () => {
  it('is finished with SIGKILL by the next instance that polls, through the process group alone (no cgroup)', async () => {
    const slow = new LocalOperator({ pollIntervalMs: 50, killGraceMs: 60_000, cgroups: false });
    const ctx = contextFor(tempWorkspace(), { id: 'stubborn', command: "trap '' TERM; sleep 1000 & echo $! > child.pid; wait" });
    await slow.prepare(ctx);
    await slow.submit(ctx);
    const child = await vi.waitFor(() => pidIn(ctx, 'child.pid'), { timeout: 5000, interval: 20 });
    cleanups.push(() => killLeftover(child));
    expect(existsSync(path.join(ctx.attempt.dir, '.matterstack/cgroup'))).toBe(false);
    // The first instance sends SIGTERM and waits out its minute of grace: as good as crashed.
    const stalled = slow.cancel(ctx);
    await vi.waitFor(() => expect(existsSync(path.join(ctx.attempt.dir, '.matterstack/killed.json'))).toBe(true), { timeout: 5000, interval: 20 });
    expect(isProcessAlive(child)).toBe(true);
    const restarted = new LocalOperator({ pollIntervalMs: 50, killGraceMs: 60_000, cgroups: false });
    expect(await restarted.cancel(ctx)).toEqual({ status: 'CANCELLED', reason: 'cancelled' });
    expect(isProcessAlive(child)).toBe(false);
    await stalled;
  });
});

// Only where this machine lets us create cgroup v2 groups (see README: Operators).
const probe = createAttemptCgroup(path.join(tempWorkspace(), 'probe'));
if (probe !== null) removeCgroup(probe);
describe.skipIf(probe === null)('attempts in their own cgroup', () => {
  it('a process that left the session (setsid) is still killed by cancel', async () => {
    const { ctx, op } = await start({ id: 'escape', command: 'setsid sh -c \'echo $$ > escaped.pid; exec sleep 1000\' & sleep 1000' });
    const escaped = await vi.waitFor(() => pidIn(ctx, 'escaped.pid'), { timeout: 5000, interval: 20 });
    cleanups.push(() => killLeftover(escaped));
    expect(isProcessAlive(escaped)).toBe(true);
    expect(readProcStat(escaped)?.session, 'left the attempt session').not.toBe(await pidOf(ctx));
    expect(await op.cancel(ctx)).toMatchObject({ status: 'CANCELLED' });
    expect(isProcessAlive(escaped)).toBe(false);
  });

  it('leaves no cgroup behind when results are collected the moment the end is heard (24 quick tasks)', async () => {
    const op = operator();
    const ws = tempWorkspace();
    const cgroups = await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const ctx = contextFor(ws, { id: `quick${i}`, command: 'true' });
        await op.prepare(ctx);
        await op.submit(ctx);
        await new Promise<void>((resolve, reject) => {
          const stop = op.watch(ctx, (result) => {
            if (result.status === 'RUNNING') return;
            stop();
            op.collectResults(ctx).then(() => resolve(), reject);
          });
        });
        return read(ctx, '.matterstack/cgroup').trim();
      }),
    );
    await vi.waitFor(() => expect(cgroups.filter((cgroup) => existsSync(cgroup))).toEqual([]), { timeout: 4000, interval: 50 });
  });
});
