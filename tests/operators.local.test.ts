import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LocalOperator } from '../operators/local-operator.ts';
import type { OperatorContext, PollResult } from '../operators/operator.ts';
import { isProcessAlive, readProcStat } from '../operators/process-group.ts';
import type { TaskSpecInput } from '../events/workflow.ts';
import { contextFor, pidIn, sleep, tempWorkspace } from './operators-helpers.ts';

const operator = (): LocalOperator => new LocalOperator({ pollIntervalMs: 50, killGraceMs: 300 });
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  // Cleanup only: a cancel of an attempt that already ended may refuse; the test's own assertions already ran.
  for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => undefined);
});

/** prepare + submit, registering a cancel so no test leaves processes behind. */
async function start(task: TaskSpecInput, op = operator(), ws = tempWorkspace()): Promise<{ ctx: OperatorContext; op: LocalOperator; ws: string }> {
  const ctx = contextFor(ws, task);
  await op.prepare(ctx);
  await op.submit(ctx);
  cleanups.push(() => op.cancel(ctx));
  return { ctx, op, ws };
}

async function untilDone(op: LocalOperator, ctx: OperatorContext, timeoutMs = 5000): Promise<PollResult> {
  return vi.waitFor(async () => {
    const result = await op.poll(ctx);
    expect(['COMPLETED', 'FAILED', 'CANCELLED']).toContain(result.status);
    return result;
  }, { timeout: timeoutMs, interval: 20 });
}

const read = (ctx: OperatorContext, name: string): string => readFileSync(path.join(ctx.attempt.dir, name), 'utf8');

describe('LocalOperator', () => {
  it('runs a shell command to completion with logs and env', async () => {
    const { ctx, op } = await start({ id: 't1', command: 'echo "out $GREETING"; echo err >&2', env: { GREETING: 'hello' } });
    expect(await untilDone(op, ctx)).toEqual({ status: 'COMPLETED' });
    expect(read(ctx, 'stdout.log')).toBe('out hello\n');
    expect(read(ctx, 'stderr.log')).toBe('err\n');
    expect(read(ctx, '.matterstack/exit_code').trim()).toBe('0');
    const manifest = JSON.parse(read(ctx, '.matterstack/manifest.json'));
    expect(manifest).toMatchObject({ task_id: 't1', attempt_id: 't1-a1', run_id: 'r1' });
  });

  it('reports a non-zero exit as FAILED with the code', async () => {
    const { ctx, op } = await start({ id: 't2', command: 'exit 3' });
    const result = await untilDone(op, ctx);
    expect(result.status).toBe('FAILED');
    expect(result.reason).toMatch(/exit code 3/);
  });

  it('runs an array command without a shell', async () => {
    const { ctx, op } = await start({ id: 't3', command: ['printf', '%s|', 'a; echo injected', '$(echo nope)', '`id`'] });
    expect((await untilDone(op, ctx)).status).toBe('COMPLETED');
    expect(read(ctx, 'stdout.log')).toBe('a; echo injected|$(echo nope)|`id`|');
  });

  it('stages inline and workspace files, and refuses escapes', async () => {
    const ws = tempWorkspace();
    mkdirSync(path.join(ws, 'data'));
    writeFileSync(path.join(ws, 'data', 'in.txt'), 'from workspace');
    const { ctx, op } = await start(
      { id: 't4', command: 'cat sub/inline.txt copied.txt > both.txt', files: { 'sub/inline.txt': 'inline ', 'copied.txt': { source: 'data/in.txt' } } },
      operator(),
      ws,
    );
    expect((await untilDone(op, ctx)).status).toBe('COMPLETED');
    expect(read(ctx, 'both.txt')).toBe('inline from workspace');
    expect(read(ctx, '.matterstack/manifest.json')).not.toContain('from workspace');

    const bad: Record<string, unknown>[] = [
      { '../escape.txt': 'x' },
      { '/tmp/abs.txt': 'x' },
      { 'ok.txt': { source: '../../etc/passwd' } },
      { 'ok.txt': { source: '/etc/passwd' } },
    ];
    for (const [i, files] of bad.entries()) {
      const badCtx = contextFor(ws, { id: `bad${i}`, command: 'true', files: files as TaskSpecInput['files'] });
      await expect(op.prepare(badCtx)).rejects.toMatchObject({ code: 'OPERATOR_ERROR' });
    }
    // A link inside the workspace pointing outside it is refused as a source...
    symlinkSync('/etc', path.join(ws, 'etc-link'));
    const linkCtx = contextFor(ws, { id: 'badlink', command: 'true', files: { 'p.txt': { source: 'etc-link/passwd' } } });
    await expect(op.prepare(linkCtx)).rejects.toMatchObject({ code: 'OPERATOR_ERROR' });
    // ...and so is a destination under a link that leads out of the attempt directory.
    const destCtx = contextFor(ws, { id: 'badlink2', command: 'true', files: { 'out/x.txt': 'x' } });
    mkdirSync(destCtx.attempt.dir, { recursive: true });
    symlinkSync(ws, path.join(destCtx.attempt.dir, 'out'));
    await expect(op.prepare(destCtx)).rejects.toMatchObject({ code: 'OPERATOR_ERROR' });
    expect(existsSync(path.join(ws, 'x.txt'))).toBe(false);
  });

  it('kills the whole process group when the time limit passes', async () => {
    const { ctx, op } = await start({
      id: 't5',
      command: 'sleep 30 & echo $! > grandchild.pid; sleep 30',
      timeLimitMinutes: 0.005,
    });
    const grandchild = await vi.waitFor(() => pidIn(ctx, 'grandchild.pid'), { timeout: 5000, interval: 20 });
    const started = JSON.parse(read(ctx, '.matterstack/started.json')) as { pid: number };
    await sleep(400);
    const result = await untilDone(op, ctx);
    expect(result.status).toBe('FAILED');
    expect(result.reason).toMatch(/time limit/);
    expect(isProcessAlive(started.pid)).toBe(false);
    expect(isProcessAlive(grandchild)).toBe(false);
  });

  it('cancel kills the process group', async () => {
    const { ctx, op } = await start({ id: 't6', command: 'sleep 30 & echo $! > grandchild.pid; sleep 30' });
    const grandchild = await vi.waitFor(() => pidIn(ctx, 'grandchild.pid'), { timeout: 5000, interval: 20 });
    expect((await op.poll(ctx)).status).toBe('RUNNING');
    expect(await op.cancel(ctx)).toMatchObject({ status: 'CANCELLED' });
    expect((await op.poll(ctx)).status).toBe('CANCELLED');
    expect(isProcessAlive(grandchild)).toBe(false);
  });

  it('a cancel before any submit (a start still on its way) keeps the command from ever running', async () => {
    const op = operator();
    const ctx = contextFor(tempWorkspace(), { id: 't6b', command: 'echo ran > ran.txt' });
    expect(await op.cancel(ctx)).toMatchObject({ status: 'CANCELLED' });
    await expect(op.submit(ctx)).rejects.toThrow(/was cancelled before it started/);
    expect((await op.poll(ctx)).status).toBe('CANCELLED');
    await sleep(100);
    expect(existsSync(path.join(ctx.attempt.dir, 'ran.txt'))).toBe(false);
  });

  it('a cancel racing the start (another instance, staggered 0-20 ms, 24 attempts) leaves no process behind and the attempt CANCELLED', async () => {
    const ws = tempWorkspace();
    const outcomes = await Promise.all(
      Array.from({ length: 24 }, async (_, index) => {
        const ctx = contextFor(ws, { id: `race${index}`, command: 'echo $$ > task.pid; exec sleep 30' });
        const [starter, canceller] = [operator(), operator()];
        await starter.prepare(ctx);
        const [, cancelled] = await Promise.all([starter.submit(ctx).catch((error: unknown) => error), sleep(index % 21).then(() => canceller.cancel(ctx))]);
        return { ctx, cancelled };
      }),
    );
    await sleep(200);
    // Before any poll: a poll finishes a kill it finds unfinished, which would hide a command started after its cancel.
    for (const { ctx, cancelled } of outcomes) {
      expect(cancelled.status, ctx.task.id).toBe('CANCELLED');
      const pidFile = path.join(ctx.attempt.dir, 'task.pid');
      if (existsSync(pidFile)) expect(isProcessAlive(Number(readFileSync(pidFile, 'utf8'))), `${ctx.task.id}: the command outlived its cancel`).toBe(false);
    }
    for (const { ctx } of outcomes) expect((await operator().poll(ctx)).status, ctx.task.id).toBe('CANCELLED');
  });

  it('submit twice starts the command once', async () => {
    const op = operator();
    const ctx = contextFor(tempWorkspace(), { id: 't7', command: 'echo run >> counter.txt' });
    await op.prepare(ctx);
    const [a, b] = await Promise.all([op.submit(ctx), op.submit(ctx)]);
    expect(a.externalId).toBe(b.externalId);
    await untilDone(op, ctx);
    const c = await op.submit(ctx);
    expect(c.externalId).toBe(a.externalId);
    await sleep(100);
    expect(read(ctx, 'counter.txt')).toBe('run\n');
  });

  it('two instances launching the same attempt at once (a restart racing a slow start) run the command once', async () => {
    const ctx = contextFor(tempWorkspace(), { id: 't7b', command: 'echo run >> counter.txt' });
    const [first, second] = [operator(), operator()];
    await first.prepare(ctx);
    const [a, b] = await Promise.all([first.submit(ctx), second.submit(ctx)]);
    expect(a.externalId).toBe(b.externalId);
    await untilDone(first, ctx);
    await sleep(100);
    expect(read(ctx, 'counter.txt')).toBe('run\n');
  });

  it('a second instance launching while the first wrapper starts (staggered 0-20 ms, 24 attempts) neither breaks the first nor runs the command twice', async () => {
    const ws = tempWorkspace();
    const outcomes = await Promise.all(
      Array.from({ length: 24 }, async (_, index) => {
        const ctx = contextFor(ws, { id: `stagger${index}`, command: 'echo run >> counter.txt' });
        const [first, second] = [operator(), operator()];
        await first.prepare(ctx);
        const submits = [first.submit(ctx), sleep(index % 21).then(() => second.submit(ctx))];
        const [a, b] = await Promise.all(submits);
        await untilDone(first, ctx);
        return { ctx, same: a?.externalId === b?.externalId };
      }),
    );
    await sleep(100);
    for (const { ctx, same } of outcomes) {
      expect(same, ctx.task.id).toBe(true);
      expect(read(ctx, 'counter.txt'), ctx.task.id).toBe('run\n');
    }
  });

  it('a new instance re-adopts a running process (orchestrator restart)', async () => {
    const { ctx } = await start({ id: 't8', command: 'echo run >> counter.txt; sleep 0.4' });
    // submit answers with the wrapper's pid at once; the wrapper records its start marker as it starts.
    const before = await vi.waitFor(() => JSON.parse(read(ctx, '.matterstack/started.json')) as { pid: number }, { timeout: 5000, interval: 10 });
    const fresh = operator();
    cleanups.push(() => fresh.cancel(ctx));
    expect((await fresh.poll(ctx)).status).toBe('RUNNING');
    const again = await fresh.submit(ctx);
    expect(again.externalId).toBe(String(before.pid));
    expect(await untilDone(fresh, ctx)).toEqual({ status: 'COMPLETED' });
    expect(read(ctx, 'counter.txt')).toBe('run\n');
  });

  it('learns the outcome of work that finished while it was down', async () => {
    const { ctx, op } = await start({ id: 't9', command: 'exit 7' });
    await vi.waitFor(() => expect(existsSync(path.join(ctx.attempt.dir, '.matterstack/exit_code'))).toBe(true), { timeout: 5000, interval: 20 });
    void op;
    const fresh = operator();
    const result = await fresh.poll(ctx);
    expect(result).toMatchObject({ status: 'FAILED' });
    expect(result.reason).toMatch(/exit code 7/);
    expect((await fresh.submit(ctx)).externalId).not.toBe('0');
  });

  it('records the exit of a process killed behind our back (128 + the signal): its reaper, the launcher, outlives it', async () => {
    const op = operator();
    const ctx = contextFor(tempWorkspace(), { id: 't10k', command: 'sleep 30' });
    const submitted = await op.submit(ctx);
    cleanups.push(() => op.cancel(ctx));
    const started = await vi.waitFor(() => JSON.parse(read(ctx, '.matterstack/started.json')) as { pid: number }, { timeout: 5000, interval: 10 });
    // The pid submit answered is the one the start marker records: the command's, leading the attempt's group.
    expect(submitted.externalId).toBe(String(started.pid));
    process.kill(-started.pid, 'SIGKILL');
    await vi.waitFor(() => expect(read(ctx, '.matterstack/exit_code')).toBe('137\n'), { timeout: 5000, interval: 20 });
    expect(await operator().poll(ctx)).toEqual({ status: 'FAILED', reason: 'exit code 137' });
  });

  /** Kills (-9) the launcher that reaps the attempt `pid`, then the attempt's group: as a machine would, nothing records the exit. */
  async function killWithItsReaper(pid: number): Promise<void> {
    const reaper = readProcStat(pid)?.ppid;
    expect(reaper, 'the attempt is a child of its launcher').toBeGreaterThan(1);
    process.kill(reaper as number, 'SIGKILL');
    process.kill(-pid, 'SIGKILL');
    await vi.waitFor(() => expect(isProcessAlive(pid)).toBe(false), { timeout: 5000, interval: 20 });
  }

  it('reports "lost" when the process is gone without an exit code', async () => {
    const op = operator();
    const ctx = contextFor(tempWorkspace(), { id: 't10', command: 'sleep 30' });
    await op.submit(ctx);
    cleanups.push(() => op.cancel(ctx));
    const started = await vi.waitFor(() => JSON.parse(read(ctx, '.matterstack/started.json')) as { pid: number }, { timeout: 5000, interval: 10 });
    await killWithItsReaper(started.pid);
    const result = await operator().poll(ctx);
    expect(result.status).toBe('FAILED');
    expect(result.reason).toMatch(/^lost/);
    expect(existsSync(path.join(ctx.attempt.dir, '.matterstack/exit_code'))).toBe(false);
  });

  it('the instance that launched the attempt reports "lost" too when it is killed behind its back (no end heard from the launcher)', async () => {
    const op = operator();
    const ctx = contextFor(tempWorkspace(), { id: 't10b', command: 'sleep 30' });
    const submitted = await op.submit(ctx);
    cleanups.push(() => op.cancel(ctx));
    const pid = Number(submitted.externalId);
    expect(await op.poll(ctx)).toEqual({ status: 'RUNNING' });
    await vi.waitFor(() => expect(existsSync(path.join(ctx.attempt.dir, '.matterstack/started.json'))).toBe(true), { timeout: 5000, interval: 10 });
    await killWithItsReaper(pid);
    // Once this process has heard that the launcher died: its ends go unheard from then on.
    const result = await vi.waitFor(async () => {
      const polled = await op.poll(ctx);
      expect(polled.status).toBe('FAILED');
      return polled;
    }, { timeout: 5000, interval: 20 });
    expect(result.reason).toMatch(/^lost/);
  });

  it('optimisation: a poll by the instance that launched the wrapper a moment ago reads no marker (a forged exit code is not believed)', async () => {
    const { ctx, op } = await start({ id: 't10c', command: 'sleep 30' });
    await vi.waitFor(() => expect(existsSync(path.join(ctx.attempt.dir, '.matterstack/started.json'))).toBe(true), { timeout: 5000, interval: 10 });
    writeFileSync(path.join(ctx.attempt.dir, '.matterstack/exit_code'), '0\n');
    expect(await op.poll(ctx)).toEqual({ status: 'RUNNING' });
    // Another instance (a restart) has only the folder to go by.
    expect(await operator().poll(ctx)).toEqual({ status: 'COMPLETED' });
  });

  it('keeps nothing of an attempt once its results are collected or it is cancelled (a run of days does not grow the operator)', async () => {
    const op = operator();
    const ws = tempWorkspace();
    const done = await Promise.all(Array.from({ length: 6 }, (_, i) => start({ id: `k${i}`, command: 'true' }, op, ws)));
    const cancelled = await Promise.all(Array.from({ length: 3 }, (_, i) => start({ id: `c${i}`, command: 'sleep 30' }, op, ws)));
    const notStarted = contextFor(ws, { id: 'n0', command: 'true' });
    await op.prepare(notStarted);
    expect(op.keptFolders()).toBe(10);
    for (const { ctx } of done) {
      expect((await untilDone(op, ctx)).status).toBe('COMPLETED');
      await op.collectResults(ctx);
    }
    for (const { ctx } of cancelled) expect((await op.cancel(ctx)).status).toBe('CANCELLED');
    expect((await op.cancel(notStarted)).status).toBe('CANCELLED');
    expect(op.keptFolders()).toBe(0);
  });

  it('collects results keyed by relative path with include/exclude, and results.json as data', async () => {
    const { ctx, op } = await start({
      id: 't11',
      command: 'mkdir -p a/b c && echo 1 > a/b/x.dat && echo 2 > c/x.dat && echo 3 > c/skip.tmp && echo \'{"score": 0.5}\' > results.json',
    });
    await untilDone(op, ctx);
    const all = await op.collectResults(ctx);
    expect(Object.keys(all.files).sort()).toEqual(['a/b/x.dat', 'c/skip.tmp', 'c/x.dat', 'results.json', 'stderr.log', 'stdout.log']);
    expect(all.files['a/b/x.dat']).toBe(path.join(ctx.attempt.dir, 'a/b/x.dat'));
    expect(all.data).toEqual({ score: 0.5 });

    const filtered = await op.collectResults({ ...ctx, task: { ...ctx.task, downloadPatterns: { include: ['**/*.dat', 'c/**'], exclude: ['**/*.tmp'] } } });
    expect(Object.keys(filtered.files).sort()).toEqual(['a/b/x.dat', 'c/x.dat']);
  });

  it('an invalid results.json gives a reason, not a crash', async () => {
    const { ctx, op } = await start({ id: 't12', command: 'echo "{not json" > results.json' });
    await untilDone(op, ctx);
    const results = await op.collectResults(ctx);
    expect(results.data).toBeUndefined();
    expect(results.reason).toMatch(/results\.json/);
    expect(results.files['results.json']).toBeDefined();
  });

  it('watch reports the exit promptly', async () => {
    const op = new LocalOperator({ pollIntervalMs: 5000 });
    const ctx = contextFor(tempWorkspace(), { id: 't13', command: 'sleep 0.2' });
    await op.prepare(ctx);
    await op.submit(ctx);
    const seen: PollResult[] = [];
    const t0 = Date.now();
    const done = new Promise<number>((resolve) => {
      const stop = op.watch(ctx, (result) => {
        seen.push(result);
        if (result.status === 'COMPLETED') {
          stop();
          resolve(Date.now() - t0);
        }
      });
    });
    const elapsed = await done;
    expect(elapsed).toBeLessThan(1500);
    // RUNNING from the first report: submit said RUNNING, and the attempt never steps back to SUBMITTED.
    expect(seen[0]?.status).toBe('RUNNING');
    expect(seen.at(-1)).toEqual({ status: 'COMPLETED' });
  });

  it('watch by a new instance (no child handle) reports via the files', async () => {
    const { ctx } = await start({ id: 't14', command: 'sleep 0.2; exit 2' });
    const fresh = new LocalOperator({ pollIntervalMs: 100 });
    const result = await new Promise<PollResult>((resolve) => {
      const stop = fresh.watch(ctx, (r) => {
        if (r.status === 'FAILED') {
          stop();
          resolve(r);
        }
      });
    });
    expect(result.reason).toMatch(/exit code 2/);
  });
});
