import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { OperatorEntry } from '../workspace/operators-config.ts';
import { attemptLogSource, fileLogSource, readLogTail, tailOffset } from '../operators/attempt-log.ts';
import { LocalOperator } from '../operators/local-operator.ts';
import { LocalCommandRunner, SshCommandRunner } from '../operators/slurm/command-runner.ts';
import { remoteLogSource } from '../operators/slurm/remote-log-source.ts';
import { SlurmOperator } from '../operators/slurm/slurm-operator.ts';
import { contextFor, tempWorkspace } from './operators-helpers.ts';

// Slurm's log paths at unit level (no Slurm or sshd on this machine for slurm.e2e): where the
// operator says a job's output is, and the remote reader run through a real shell — the same argv
// the SSH runner sends to the login node.
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const slurmEntry = (ssh: boolean): OperatorEntry => ({
  kind: 'hpc',
  backend: { type: 'slurm', workspace_root: '/scratch/ms', ...(ssh ? { ssh: { host: 'login.example', user: 'ana', port: 2222, accept_unknown_host_keys: false } } : {}) },
  maxConcurrent: null,
} as OperatorEntry);

describe('attempt log files and sources', () => {
  it('Slurm over SSH: the job output in the job directory on the cluster while it runs, the fetched copy once ended', async () => {
    const ws = tempWorkspace('ms-log-slurm-');
    dirs.push(ws);
    const ctx = contextFor(ws, { id: 'relax', command: 'true' });
    const remote = new SlurmOperator('hpc.c', slurmEntry(true)).logFiles(ctx, 'stderr');
    expect(remote.local).toBe(path.join(ctx.attempt.dir, 'stderr.log'));
    expect(remote.remote?.where).toBe('ssh ana@login.example:2222:/scratch/ms/r1/relax/relax-a1/stderr.log');
    expect((await attemptLogSource(remote, false)).where).toBe(remote.remote?.where);
    // Ended but nothing fetched back (the cluster went away before collect): still the cluster's copy.
    expect((await attemptLogSource(remote, true)).where).toBe(remote.remote?.where);
    mkdirSync(ctx.attempt.dir, { recursive: true });
    writeFileSync(remote.local, 'fetched\n');
    expect((await attemptLogSource(remote, true)).where).toBe(remote.local);

    const onLoginNode = new SlurmOperator('hpc.c', slurmEntry(false)).logFiles(ctx, 'stdout');
    expect(onLoginNode).toEqual({ local: path.join(ctx.attempt.dir, 'stdout.log') });
    expect(new LocalOperator().logFiles(ctx, 'stdout')).toEqual({ local: path.join(ctx.attempt.dir, 'stdout.log') });
    expect(new SshCommandRunner({ host: 'h', port: 22 }).remote).toBe(true);
  });

  it('the remote reader returns exact bytes at any offset (a UTF-8 character split between pieces), sizes, and null for a missing file', async () => {
    const dir = tempWorkspace('ms-log-remote-');
    dirs.push(dir);
    const file = path.join(dir, "it's here.log");
    const text = Array.from({ length: 300 }, (_, i) => `ligne ${i} — é ✓\n`).join('');
    writeFileSync(file, text);
    const bytes = Buffer.from(text);
    const source = remoteLogSource(new LocalCommandRunner(), file);
    expect(await source.size()).toBe(bytes.length);
    const pieces: Buffer[] = [];
    for (let offset = 0; offset < bytes.length; offset += 1001) pieces.push(await source.read(offset, 1001));
    expect(pieces.length).toBeGreaterThan(1);
    expect(Buffer.concat(pieces).equals(bytes)).toBe(true);
    expect(await remoteLogSource(new LocalCommandRunner(), path.join(dir, 'missing.log')).size()).toBeNull();
    // The tail through the remote reader is the tail of the file.
    expect((await source.read(await tailOffset(source, bytes.length, 2), 10_000)).toString()).toBe('ligne 298 — é ✓\nligne 299 — é ✓\n');
  });

  it('tailOffset: the last N lines, a final newline or none, more lines asked than there are, an empty file', async () => {
    const dir = tempWorkspace('ms-log-tail-');
    dirs.push(dir);
    const write = (name: string, content: string): ReturnType<typeof fileLogSource> => {
      writeFileSync(path.join(dir, name), content);
      return fileLogSource(path.join(dir, name));
    };
    expect(await readLogTail(write('a', 'a\nb\nc\n'), 2)).toBe('b\nc\n');
    expect(await readLogTail(write('b', 'a\nb\nc'), 2)).toBe('b\nc');
    expect(await readLogTail(write('c', 'a\nb\n'), 10)).toBe('a\nb\n');
    expect(await readLogTail(write('d', ''), 3)).toBe('');
    expect(await readLogTail(fileLogSource(path.join(dir, 'none')), 3)).toBeNull();
    // Lines longer than one backward block (64 KiB).
    const long = `${'x'.repeat(100_000)}\n${'y'.repeat(70_000)}\nlast\n`;
    expect(await readLogTail(write('e', long), 2)).toBe(`${'y'.repeat(70_000)}\nlast\n`);
  });
});
