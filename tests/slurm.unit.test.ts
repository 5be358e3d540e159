import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseOperatorsConfig, type OperatorEntry } from '../workspace/operators-config.ts';
import { OperatorRegistry } from '../operators/operator-registry.ts';
import { renderBatchScript, sbatchArgv, sbatchOptions, SLURM_FILES } from '../operators/slurm/batch-script.ts';
import { isUnreachableOutput, shellQuote } from '../operators/slurm/command-runner.ts';
import { SlurmOperator } from '../operators/slurm/slurm-operator.ts';
import fc from 'fast-check';
import { attemptStatusOf, normalizeSlurmState, parseSacct, parseSbatchParsable, parseScontrolJob, parseSqueue, pollResultOf } from '../operators/slurm/slurm-states.ts';
import { TaskSpecSchema } from '../events/workflow.ts';
import { contextFor, tempWorkspace } from './operators-helpers.ts';
import { FakeRunner } from './slurm-fixtures.ts';

const entry: OperatorEntry = {
  kind: 'hpc',
  backend: { type: 'slurm', workspace_root: '/scratch', partition: 'p', account: 'acct', qos: 'q', slurm: { constraint: 'x', partition: 'ignored', exclusive: true }, sbatch_options: ['--nodes=1'], modules: ['module load gcc'], poll_interval_seconds: 1 },
  maxConcurrent: null,
};

const fast = { initialBackoffMs: 5, maxBackoffMs: 20 };

describe('Slurm states and parsers', () => {
  it('parses sacct output for a forgotten job (unit-tested only: accounting needs slurmdbd, which this test cluster does not run)', () => {
    expect(parseSacct('41|a1|TIMEOUT|0:15\n', '41')).toEqual({ jobId: '41', name: 'a1', state: 'TIMEOUT', exitCode: 0, signal: 15 });
    expect(parseSacct('41|a1|CANCELLED by 0|0:0\n', '41')?.state).toBe('CANCELLED');
    expect(parseSacct('42|b|COMPLETED|0:0\n', '41')).toBeNull();
    expect(parseSacct('', '41')).toBeNull();
    fc.assert(
      fc.property(fc.string(), (junk) => {
        const parsed = parseSacct(junk, '41');
        expect(parsed === null || parsed.jobId === '41').toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('maps Slurm states as SPEC §2 says; failures keep their Slurm name in the reason', () => {
    expect(['PENDING', 'CONFIGURING', 'PD'].map(attemptStatusOf)).toEqual(['SUBMITTED', 'SUBMITTED', 'SUBMITTED']);
    expect(['RUNNING', 'COMPLETING', 'CG'].map(attemptStatusOf)).toEqual(['RUNNING', 'RUNNING', 'RUNNING']);
    expect(attemptStatusOf('COMPLETED')).toBe('COMPLETED');
    for (const s of ['FAILED', 'TIMEOUT', 'NODE_FAIL', 'OUT_OF_MEMORY', 'BOOT_FAIL', 'DEADLINE', 'PREEMPTED']) expect(attemptStatusOf(s)).toBe('FAILED');
    expect(attemptStatusOf('CANCELLED by 0')).toBe('CANCELLED');
    expect(normalizeSlurmState('COMPLETING+')).toBe('COMPLETING');
    for (const s of ['TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED']) {
      expect(pollResultOf({ jobId: '7', name: 'a', state: s }).reason).toBe(`${s}: Slurm job 7`);
    }
    expect(pollResultOf({ jobId: '7', name: 'a', state: 'FAILED' }, 3).reason).toBe('FAILED: Slurm job 7, exit code 3');
  });

  it('parses squeue, scontrol and sbatch --parsable output', () => {
    const jobs = parseSqueue('12|att-1|RUNNING|None\n13|we|ird|name|PENDING|Priority\n\nnot a job line\n');
    expect(jobs.get('12')).toEqual({ jobId: '12', name: 'att-1', state: 'RUNNING', reason: 'None' });
    expect(jobs.get('13')?.name).toBe('we|ird|name');
    const job = parseScontrolJob('JobId=5 JobName=x-a1 UserId=root(0) JobState=TIMEOUT Reason=TimeLimit Dependency=(null) ExitCode=0:15\n');
    expect(job).toMatchObject({ jobId: '5', name: 'x-a1', state: 'TIMEOUT', reason: 'TimeLimit', exitCode: 0, signal: 15 });
    expect(parseScontrolJob('')).toBeNull();
    expect(parseSbatchParsable('42\n')).toBe('42');
    expect(parseSbatchParsable('42;cluster\n')).toBe('42');
    expect(parseSbatchParsable('Submitted batch job 42')).toBeNull();
  });

  it('classifies unreachable-controller output as transient', () => {
    expect(isUnreachableOutput('squeue: error: Unable to contact slurm controller (connect failure)')).toBe(true);
    expect(isUnreachableOutput('sbatch: error: Batch job submission failed: Invalid partition name specified')).toBe(false);
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });
});

describe('batch script', () => {
  it('resources from the task, site options from the config (task wins), env quoted, exit code recorded', () => {
    const task = TaskSpecSchema.parse({ id: 't', command: 'echo "$X" > out', cores: 4, memoryGb: 1.5, gpus: 2, timeLimitMinutes: 0.5, env: { X: "a'b $(no)" } });
    const input = { runId: 'r', attemptId: 't-a1', task, jobDir: '/w/t-a1', site: { partition: 'p', account: 'acct', slurm: { partition: 'other', constraint: 'x', exclusive: true }, sbatchOptions: ['--nodes=1'], modules: ['module load gcc'] } };
    expect(sbatchOptions(input)).toEqual(['--time=1', '--cpus-per-task=4', '--mem=1536M', '--gres=gpu:2', '--partition=p', '--account=acct', '--constraint=x', '--exclusive', '--nodes=1']);
    const script = renderBatchScript(input);
    expect(script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(script).toContain(`export X='a'\\''b $(no)'`);
    expect(script).toContain('export MATTERSTACK_ATTEMPT_ID=t-a1');
    expect(script).toContain('module load gcc');
    expect(script).toContain(`/bin/sh -c 'echo "$X" > out' &`);
    expect(script).toMatch(/ms_record "\$ms_code"/);
    expect(sbatchArgv(input)).toEqual(['sbatch', '--parsable', '--job-name=t-a1', '--chdir=/w/t-a1', '--output=/w/t-a1/stdout.log', '--error=/w/t-a1/stderr.log', '/w/t-a1/.matterstack/submit.sh']);
  });

  it('operators.yaml accepts the Slurm backend fields; the registry builds a SlurmOperator', () => {
    const config = parseOperatorsConfig(
      'operators:\n  hpc.c:\n    kind: hpc\n    backend:\n      type: slurm\n      workspace_root: /s\n      partition: p\n      account: a\n      qos: q\n      sbatch_options: ["--nodes=1"]\n      poll_interval_seconds: 5\n      lost_grace_seconds: 60\n      ssh: {host: login, user: me, port: 2222, key_path: ~/.ssh/id}\n',
      'operators.yaml',
    );
    expect(config.operators['hpc.c']?.backend).toMatchObject({ type: 'slurm', partition: 'p', qos: 'q', sbatch_options: ['--nodes=1'], ssh: { host: 'login', port: 2222 } });
    const op = OperatorRegistry.fromConfig(config).require('hpc.c').operator;
    expect(op).toBeInstanceOf(SlurmOperator);
    expect((op as SlurmOperator).runner.target).toBe('ssh me@login:2222');
    expect(() => parseOperatorsConfig('operators:\n  hpc.c:\n    kind: hpc\n    backend: {type: slurm, workspace_root: /s, partitions: x}\n', 'o.yaml')).toThrow(/unknown field "partitions"/);
  });
});

describe('SlurmOperator against a scripted cluster', () => {
  it('submits once; a second submit (or a new instance after a restart) adopts the same job', async () => {
    const ws = tempWorkspace();
    const runner = new FakeRunner();
    const ctx = contextFor(ws, { id: 'a', command: 'true' }, entry);
    const op = new SlurmOperator('hpc.c', entry, { runner, ...fast });
    await op.prepare(ctx);
    const first = await op.submit(ctx);
    expect(first).toMatchObject({ externalId: '100', status: 'SUBMITTED' });
    expect((await new SlurmOperator('hpc.c', entry, { runner }).submit(ctx)).externalId).toBe('100');
    // Crash after sbatch, before the marker: a restart finds the job by name.
    writeFileSync(path.join(ctx.attempt.dir, SLURM_FILES.job), '');
    const adopted = await new SlurmOperator('hpc.c', entry, { runner }).submit(ctx);
    expect(adopted).toMatchObject({ externalId: '100', operatorData: { adopted: true } });
    expect(runner.count('sbatch')).toBe(1);
    expect(readFileSync(path.join(ctx.attempt.dir, SLURM_FILES.script), 'utf8')).toContain('#SBATCH --partition=p');
  });

  it('transient failures during submit are retried with backoff; sbatch runs once', async () => {
    const runner = new FakeRunner();
    runner.failNext = ['sbatch', 'sbatch'];
    const op = new SlurmOperator('hpc.c', entry, { runner, ...fast });
    const ctx = contextFor(tempWorkspace(), { id: 'b', command: 'true' }, entry);
    await op.prepare(ctx);
    expect((await op.submit(ctx)).externalId).toBe('100');
    expect(runner.count('sbatch')).toBe(3); // two failed attempts to run it, one that ran
    expect(runner.jobs.size).toBe(1);
    expect(op.describeHealth()).toBeNull();
  });

  it('an unreachable-cluster deadline turns the outage into a submit failure', async () => {
    const runner = new FakeRunner();
    runner.failNext = Array(50).fill('sbatch');
    const op = new SlurmOperator('hpc.c', entry, { runner, initialBackoffMs: 5, maxBackoffMs: 10, unreachableDeadlineMs: 60 });
    const ctx = contextFor(tempWorkspace(), { id: 'c', command: 'true' }, entry);
    await op.prepare(ctx);
    await expect(op.submit(ctx)).rejects.toThrow(/cluster unreachable for \d+ s, giving up/);
  });

  it('one squeue answers for every watched attempt per interval; state changes are pushed', async () => {
    const runner = new FakeRunner();
    const op = new SlurmOperator('hpc.c', entry, { runner, pollIntervalMs: 50, ...fast });
    const ws = tempWorkspace();
    const seen = new Map<string, string>();
    const stops: (() => void)[] = [];
    for (let i = 0; i < 30; i++) {
      const ctx = contextFor(ws, { id: `t${i}`, command: 'true' }, entry);
      await op.prepare(ctx);
      await op.submit(ctx);
      stops.push(op.watch(ctx, (r) => seen.set(ctx.attempt.attemptId, r.status)));
    }
    await new Promise((r) => setTimeout(r, 30));
    const before = runner.count('squeue');
    for (const job of runner.jobs.values()) job.state = 'RUNNING';
    await new Promise((r) => setTimeout(r, 260));
    const rounds = runner.count('squeue') - before;
    expect(rounds).toBeGreaterThanOrEqual(3);
    expect(rounds).toBeLessThanOrEqual(7); // ~one per 50 ms interval, not 30 per interval
    expect(runner.count('scontrol')).toBe(0);
    expect(new Set(seen.values())).toEqual(new Set(['RUNNING']));
    for (const stop of stops) stop();
  });

  it('a job that squeue no longer lists: scontrol, then the exit-code file, then "lost" after the grace', async () => {
    const runner = new FakeRunner();
    const op = new SlurmOperator('hpc.c', entry, { runner, lostGraceMs: 40, ...fast });
    const ws = tempWorkspace();
    const done = contextFor(ws, { id: 'done', command: 'true' }, entry);
    const gone = contextFor(ws, { id: 'gone', command: 'true' }, entry);
    for (const ctx of [done, gone]) {
      await op.prepare(ctx);
      await op.submit(ctx);
    }
    runner.jobs.clear(); // Slurm forgot both (MinJobAge)
    writeFileSync(path.join(done.attempt.dir, SLURM_FILES.exitCode), '0\n');
    op.poller.invalidate();
    expect(await op.poll(done)).toEqual({ status: 'COMPLETED' });
    expect((await op.poll(gone)).status).toBe('CREATED'); // no news yet (grace period)
    await new Promise((r) => setTimeout(r, 60));
    const lost = await op.poll(gone);
    expect(lost.status).toBe('FAILED');
    expect(lost.reason).toMatch(/^lost: Slurm job 101/);
    expect(runner.count('scontrol')).toBeGreaterThanOrEqual(2);
  });

  it('cancel runs scancel and waits for Slurm to confirm', async () => {
    const runner = new FakeRunner();
    const op = new SlurmOperator('hpc.c', entry, { runner, pollIntervalMs: 20, ...fast });
    const ctx = contextFor(tempWorkspace(), { id: 'x', command: 'sleep 1' }, entry);
    await op.prepare(ctx);
    await op.submit(ctx);
    setTimeout(() => runner.jobs.set('100', { name: 'x-a1', state: 'CANCELLED' }), 50);
    expect(await op.cancel(ctx)).toEqual({ status: 'CANCELLED', reason: 'cancelled (Slurm job 100)' });
    expect(runner.count('scancel')).toBe(1);
  });
});
