import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LauncherClient } from '../operators/launcher-client.ts';
import { LOCAL_FILES } from '../operators/local-attempt-files.ts';
import { LocalOperator } from '../operators/local-operator.ts';
import { isProcessAlive } from '../operators/process-group.ts';
import { FILES } from '../operators/task-launcher.mjs';
import { contextFor, tempWorkspace } from './operators-helpers.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe('the local operator\'s launcher', () => {
  it('writes the markers the operator reads (its file names are LOCAL_FILES\')', () => {
    const { cgroup: _cgroup, ...launcherWrites } = LOCAL_FILES;
    expect(FILES).toEqual(launcherWrites);
  });

  it('a cancel accepted after the launcher checked for it, before the start marker: the command is killed at once, never run to its end', async () => {
    // A launcher of its own: the test holds it (and only it) in the middle of a launch.
    const launcher = new LauncherClient();
    const op = new LocalOperator({ pollIntervalMs: 50, killGraceMs: 300, cgroups: false, launcher });
    const ctx = contextFor(tempWorkspace(), { id: 'race', command: 'sleep 0.5; touch ran.txt' });
    const file = (name: string): string => path.join(ctx.attempt.dir, name);
    await op.prepare(ctx);
    // The launcher opens stdout.log after its kill-marker check and before it starts the command:
    // as a FIFO with no reader, that open waits, which holds the launch exactly there.
    execFileSync('mkfifo', [file(LOCAL_FILES.stdout)]);
    const submitted = op.submit(ctx);
    await vi.waitFor(() => {
      expect(existsSync(file(LOCAL_FILES.claim))).toBe(true);
      expect(readFileSync(`/proc/${launcher.pid}/wchan`, 'utf8')).toBe('wait_for_partner');
    }, { timeout: 20_000, interval: 20 });

    // No start marker yet: the cancel can only leave its kill marker.
    expect(existsSync(file(LOCAL_FILES.started))).toBe(false);
    expect(await op.cancel(ctx)).toEqual({ status: 'CANCELLED', reason: 'cancelled' });

    const reader = openSync(file(LOCAL_FILES.stdout), constants.O_RDONLY | constants.O_NONBLOCK);
    cleanups.push(() => closeSync(reader));
    const { externalId } = await submitted;
    const pid = Number(externalId);
    expect(pid).toBeGreaterThan(0);
    await vi.waitFor(() => expect(isProcessAlive(pid)).toBe(false), { timeout: 20_000, interval: 20 });
    expect(existsSync(file('ran.txt')), 'the command ran to its end').toBe(false);
    expect(await op.poll(ctx)).toEqual({ status: 'CANCELLED', reason: 'cancelled' });
  });

  it('a cancel accepted before the launch: the command never starts', async () => {
    const op = new LocalOperator({ pollIntervalMs: 50, killGraceMs: 300, cgroups: false });
    const ctx = contextFor(tempWorkspace(), { id: 'early', command: 'touch ran.txt' });
    await op.prepare(ctx);
    expect(await op.cancel(ctx)).toMatchObject({ status: 'CANCELLED' });
    await expect(op.submit(ctx)).rejects.toThrow(/cancelled before it started/);
    expect(existsSync(path.join(ctx.attempt.dir, 'ran.txt'))).toBe(false);
  });

  it('a command that cannot be executed fails with 127 and says why in stderr.log, as a shell would', async () => {
    const op = new LocalOperator({ pollIntervalMs: 50, cgroups: false });
    const ctx = contextFor(tempWorkspace(), { id: 'missing', command: ['/no/such/program', 'x'] });
    await op.prepare(ctx);
    await op.submit(ctx);
    const result = await vi.waitFor(async () => {
      const polled = await op.poll(ctx);
      expect(polled.status).toBe('FAILED');
      return polled;
    }, { timeout: 20_000, interval: 20 });
    expect(result.reason).toBe('exit code 127');
    expect(readFileSync(path.join(ctx.attempt.dir, LOCAL_FILES.stderr), 'utf8')).toMatch(/cannot run \/no\/such\/program/);
  });
});
