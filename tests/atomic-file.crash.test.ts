import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { OperatorEntry } from '../workspace/operators-config.ts';
import { readJsonFile, writeFileAtomic } from '../operators/atomic-file.ts';
import { SLURM_FILES } from '../operators/slurm/batch-script.ts';
import { SlurmOperator } from '../operators/slurm/slurm-operator.ts';
import { contextFor, tempWorkspace } from './operators-helpers.ts';
import { FakeRunner } from './slurm-fixtures.ts';

/*
 * Crash-state files (the Slurm job-id marker, the local operator's markers, the run's driver
 * record) are written by writeFileAtomic. A real writer process is SIGKILLed between writing
 * the temporary file and renaming it: the file must then hold the old complete content (or be
 * absent if it never existed), never an empty or partial one, and the operator restored on it
 * must carry on from that state.
 */

const REPO = path.resolve(import.meta.dirname, '..');
const CHILD = path.join(import.meta.dirname, 'harness', 'atomic-write-child.ts');
const entry: OperatorEntry = {
  kind: 'hpc',
  backend: { type: 'slurm', workspace_root: '/scratch', partition: 'p', slurm: {}, sbatch_options: [], modules: [], poll_interval_seconds: 1 },
  maxConcurrent: null,
};
const fast = { initialBackoffMs: 5, maxBackoffMs: 20 };
const roots: string[] = [];

afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function workspace(): string {
  const root = tempWorkspace('ms-atomic-');
  roots.push(root);
  return root;
}

/** Runs the child writer on `file`, SIGKILLs it once its temporary file is written; returns that file's path. */
async function killBetweenWriteAndRename(file: string, content: string): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, file, content], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  const tmp = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /^WRITTEN (.+)$/m.exec(out);
      if (match) resolve(match[1]!);
    });
    child.on('exit', () => reject(new Error(`the writer exited before writing: ${err}`)));
  });
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  return tmp;
}

/** The leftover temporary files of `file`. */
function leftovers(file: string): string[] {
  return readdirSync(path.dirname(file)).filter((f) => f.startsWith(`.${path.basename(file)}.`) && f.endsWith('.tmp'));
}

describe('writeFileAtomic under a SIGKILL between write and rename', () => {
  it('leaves the old complete file; the leftover temporary file is never read and the next write succeeds', async () => {
    const dir = workspace();
    const file = path.join(dir, 'marker.json');
    await writeFileAtomic(file, '{"version":"old"}\n');
    const tmp = await killBetweenWriteAndRename(file, '{"version":"new"}\n');
    expect(readFileSync(file, 'utf8')).toBe('{"version":"old"}\n');
    expect(readFileSync(tmp, 'utf8')).toBe('{"version":"new"}\n');
    expect(leftovers(file)).toEqual([path.basename(tmp)]);
    expect(await readJsonFile(file)).toEqual({ version: 'old' });
    await writeFileAtomic(file, '{"version":"newer"}\n');
    expect(await readJsonFile(file)).toEqual({ version: 'newer' });
  });

  it('a first write killed before its rename leaves no file at all (absent, not empty)', async () => {
    const dir = workspace();
    const file = path.join(dir, 'first.json');
    await killBetweenWriteAndRename(file, '{"n":1}\n');
    expect(existsSync(file)).toBe(false);
    expect(await readJsonFile(file)).toBeNull();
  });

  it('flushes the temporary file before the rename and the directory after it (strace)', async () => {
    const probe = spawnSync('strace', ['-o', '/dev/null', 'true']);
    if (probe.status !== 0) return; // no strace (or no ptrace) here: the crash tests above still run
    const dir = workspace();
    const file = path.join(dir, 'job.json');
    const trace = path.join(dir, 'trace.txt');
    const result = spawnSync('strace', ['-f', '-o', trace, '-e', 'trace=openat,fsync,fdatasync,rename,renameat,renameat2', process.execPath, '--import', 'tsx', CHILD, file, '{"jobId":"7"}\n', 'commit'], {
      cwd: REPO,
      encoding: 'utf8',
    });
    expect(result.stdout).toContain('COMMITTED');
    const lines = readFileSync(trace, 'utf8').split('\n');
    const tmpName = `.job.json.`;
    const fdOf = (pattern: RegExp): string | undefined => {
      const line = lines.find((l) => pattern.test(l));
      return line === undefined ? undefined : /= (\d+)\s*$/.exec(line)?.[1];
    };
    const escaped = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const tmpOpen = lines.findIndex((l) => l.includes('openat(') && l.includes(tmpName) && l.includes('O_CREAT'));
    const tmpFd = fdOf(new RegExp(`openat\\(.*${escaped(tmpName)}.*O_CREAT`));
    const renameAt = lines.findIndex((l) => /rename/.test(l) && l.includes(tmpName) && l.includes(file));
    const dirOpen = lines.findIndex((l, i) => i > renameAt && l.includes(`openat(`) && l.includes(`"${dir}"`));
    const dirFd = fdOf(new RegExp(`openat\\(.*"${escaped(dir)}".*O_RDONLY`));
    expect(tmpOpen).toBeGreaterThanOrEqual(0);
    expect(renameAt).toBeGreaterThan(tmpOpen);
    const fileSync = lines.findIndex((l, i) => i > tmpOpen && i < renameAt && new RegExp(`f(data)?sync\\(${tmpFd}\\)\\s*= 0`).test(l));
    expect(fileSync, 'fsync of the temporary file before the rename').toBeGreaterThan(tmpOpen);
    expect(dirOpen, 'the directory opened after the rename').toBeGreaterThan(renameAt);
    const dirSync = lines.findIndex((l, i) => i > dirOpen && new RegExp(`f(data)?sync\\(${dirFd}\\)\\s*= 0`).test(l));
    expect(dirSync, 'fsync of the directory after the rename').toBeGreaterThan(dirOpen);
  });
});

describe('restore after a writer died between write and rename', () => {
  it('Slurm: a job-id marker rewrite cut short keeps the recorded job; a restarted operator adopts it without a second sbatch', async () => {
    const ws = workspace();
    const runner = new FakeRunner();
    const ctx = contextFor(ws, { id: 'a', command: 'true' }, entry);
    const op = new SlurmOperator('hpc.c', entry, { runner, ...fast });
    await op.prepare(ctx);
    expect(await op.submit(ctx)).toMatchObject({ externalId: '100' });
    const jobFile = path.join(ctx.attempt.dir, SLURM_FILES.job);
    const before = readFileSync(jobFile, 'utf8');

    await killBetweenWriteAndRename(jobFile, `${JSON.stringify({ jobId: '999', submittedAt: new Date().toISOString() })}\n`);
    expect(readFileSync(jobFile, 'utf8')).toBe(before);
    expect(leftovers(jobFile)).toHaveLength(1);

    const restored = await new SlurmOperator('hpc.c', entry, { runner, ...fast }).submit(ctx);
    expect(restored).toMatchObject({ externalId: '100', status: 'SUBMITTED' });
    expect(runner.count('sbatch')).toBe(1);
  });

  it('Slurm: the first job-id marker cut short leaves none; the restarted operator finds the job by name, not a half-written id', async () => {
    const ws = workspace();
    const runner = new FakeRunner();
    const ctx = contextFor(ws, { id: 'b', command: 'true' }, entry);
    const op = new SlurmOperator('hpc.c', entry, { runner, ...fast });
    await op.prepare(ctx);
    // What a crash right after sbatch leaves: the submitting marker and a job on the cluster, no job-id file.
    writeFileSync(path.join(ctx.attempt.dir, SLURM_FILES.submitting), '{}\n');
    runner.jobs.set('100', { name: ctx.attempt.attemptId, state: 'RUNNING' });
    const jobFile = path.join(ctx.attempt.dir, SLURM_FILES.job);
    await killBetweenWriteAndRename(jobFile, `${JSON.stringify({ jobId: '100', submittedAt: new Date().toISOString() })}\n`);
    expect(existsSync(jobFile)).toBe(false);

    const restored = await op.submit(ctx);
    expect(restored).toMatchObject({ externalId: '100', operatorData: { adopted: true } });
    expect(runner.count('sbatch')).toBe(0);
    expect(JSON.parse(readFileSync(jobFile, 'utf8'))).toMatchObject({ jobId: '100', adopted: true });
  });
});
