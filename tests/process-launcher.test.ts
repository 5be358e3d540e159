import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { attemptCgroupForLaunch, cgroupPids, createAttemptCgroup, removeCgroup } from '../operators/attempt-cgroup.ts';
import { LOCAL_FILES } from '../operators/local-files.ts';
import { END_MARK, launcherCommand, ProcessLauncher } from '../operators/process-launcher.ts';
import { readProcStat } from '../operators/process-group.ts';
import { allowedEnv } from '../operators/task-env.ts';
import { killLeftover, tempWorkspace } from './operators-helpers.ts';

const leftovers: number[] = [];
afterEach(() => {
  for (const pid of leftovers.splice(0)) killLeftover(-pid);
});

/** A fresh attempt folder with its marker folder. */
function attemptDir(): string {
  const dir = path.join(tempWorkspace('ms-launcher-'), 'a1');
  mkdirSync(path.join(dir, '.matterstack'), { recursive: true });
  return dir;
}

/** The launcher fed `input` raw on stdin, then EOF; resolves with what it answered once it exits. */
function rawLauncher(input: string): Promise<string> {
  const command = launcherCommand();
  if (command === null) throw new Error('no perl here');
  const launcher = spawn(command.file, command.args, { env: {}, stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  launcher.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  launcher.stdin.end(input);
  return new Promise((resolve) => launcher.on('exit', () => resolve(out)));
}

const record = (dir: string, command: string[], mark = END_MARK): string[] => [dir, '1', 'A=1', String(command.length + 2), '', 'argv', ...command, mark];

describe.skipIf(launcherCommand() === null)('the process launcher (perl)', () => {
  it('never launches a record cut short (the orchestrator died while writing it) or one without its end mark', async () => {
    const dirs = [attemptDir(), attemptDir(), attemptDir()];
    const argv = ['/bin/sh', '-c', 'echo ran > ran.txt'];
    // Cut inside the last argument, cut before the end mark, and a mark that does not match.
    const cuts = [`${record(dirs[0]!, argv).slice(0, 7).join('\0')}\0/bin/s`, `${record(dirs[1]!, argv).slice(0, 9).join('\0')}\0`, `${record(dirs[2]!, argv, 'matterstack-end').join('\0')}\0`];
    for (const input of cuts) expect(await rawLauncher(input)).toBe('');
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const dir of dirs) {
      expect(existsSync(path.join(dir, 'ran.txt')), dir).toBe(false);
      expect(existsSync(path.join(dir, LOCAL_FILES.claim)), 'no claim taken').toBe(false);
    }
  });

  it('launches a whole record once, answers the pid of the command, which leads its own session, and stays at EOF until it has recorded its exit', async () => {
    const dir = attemptDir();
    const command = ['/bin/sh', '-c', 'while [ ! -e go ]; do sleep 0.05; done; exit 6'];
    const answered = rawLauncher(`${record(dir, command).join('\0')}\0${record(dir, command).join('\0')}\0`);
    const started = await vi.waitFor(() => JSON.parse(readFileSync(path.join(dir, LOCAL_FILES.started), 'utf8')) as { pid: number; procStartTime: number }, { timeout: 5000, interval: 10 });
    leftovers.push(started.pid);
    const stat = readProcStat(started.pid);
    expect(stat).toMatchObject({ pgrp: started.pid, session: started.pid, startTime: started.procStartTime });
    // Its stdin is closed already: the launcher reads no more, but waits for the command it started.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(existsSync(path.join(dir, LOCAL_FILES.exitCode))).toBe(false);
    writeFileSync(path.join(dir, 'go'), '');
    const [first, second, end] = (await answered).trim().split('\n');
    expect(first).toBe(`P ${started.pid}`);
    expect(second, 'the second launch finds the claim taken').toBe('L');
    expect(end).toBe(`X ${started.pid} 6`);
    expect(readFileSync(path.join(dir, LOCAL_FILES.exitCode), 'utf8')).toBe('6\n');
  });

  it('survives the kill of the process that started it, records the exit of its commands, and reports a signal as 128 + its number', async () => {
    const command = launcherCommand();
    if (command === null) throw new Error('no perl here');
    const dirs = [attemptDir(), attemptDir()];
    const wait = 'while [ ! -e go ]; do sleep 0.05; done; ';
    const records = [record(dirs[0]!, ['/bin/sh', '-c', `${wait}exit 3`]), record(dirs[1]!, ['/bin/sh', '-c', `${wait}kill -TERM $$`])];
    const input = Buffer.from(records.map((fields) => `${fields.join('\0')}\0`).join('')).toString('base64');
    // A parent that starts the launcher as ProcessLauncher does (its own session), feeds it, and is killed -9.
    const parentScript = `const { spawn } = require('node:child_process');
      const [file, input, ...args] = process.argv.slice(1);
      const launcher = spawn(file, args, { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
      launcher.stdin.write(Buffer.from(input, 'base64'));
      setInterval(() => undefined, 1000);`;
    const parent = spawn(process.execPath, ['-e', parentScript, command.file, input, ...command.args], { stdio: 'ignore' });
    const pids = await vi.waitFor(() => dirs.map((dir) => (JSON.parse(readFileSync(path.join(dir, LOCAL_FILES.started), 'utf8')) as { pid: number }).pid), { timeout: 5000, interval: 10 });
    leftovers.push(...pids);
    parent.kill('SIGKILL');
    await new Promise((resolve) => parent.on('exit', resolve));
    for (const dir of dirs) writeFileSync(path.join(dir, 'go'), '');
    for (const [i, code] of ['3', '143'].entries()) {
      await vi.waitFor(() => expect(readFileSync(path.join(dirs[i]!, LOCAL_FILES.exitCode), 'utf8')).toBe(`${code}\n`), { timeout: 5000, interval: 20 });
    }
  });

  it('gives the task exactly the allow-list of our environment and its own variables (none of the launcher\'s), and reports its exit', async () => {
    const secret = 'launcher-secret-value';
    process.env.MS_ORCHESTRATOR_PASSWORD = secret;
    try {
      const launcher = new ProcessLauncher();
      const dir = attemptDir();
      const outcome = await launcher.launch({ dir, env: { DECLARED: 'yes', PATH: '/usr/bin:/bin', MATTERSTACK_TASK_ID: 't' }, argv: ['', 'shell', 'env > env.txt; exit 4'] });
      if (!('pid' in outcome)) throw new Error('claimed');
      await new Promise<void>((resolve) => launcher.onExit(outcome.pid, resolve));
      expect(readFileSync(path.join(dir, LOCAL_FILES.exitCode), 'utf8')).toBe('4\n');
      const lines = readFileSync(path.join(dir, 'env.txt'), 'utf8').trim().split('\n');
      const env = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
      // PWD is the one /bin/sh itself exports (the wrapper's shell, as before the launcher).
      expect(env).toEqual({ ...allowedEnv(), DECLARED: 'yes', PATH: '/usr/bin:/bin', MATTERSTACK_TASK_ID: 't', PWD: dir });
      expect(lines.join('\n')).not.toContain(secret);
    } finally {
      delete process.env.MS_ORCHESTRATOR_PASSWORD;
    }
  });

  it('launches of one turn (sent to the launcher together) each get their own answer, and each end is heard with its code', async () => {
    const launcher = new ProcessLauncher();
    const dirs = Array.from({ length: 12 }, () => attemptDir());
    const outcomes = await Promise.all(dirs.map((dir, i) => launcher.launch({ dir, env: {}, argv: ['', 'argv', '/bin/sh', '-c', `echo ${i} > which.txt; exit ${i}`] })));
    const pids = outcomes.map((outcome) => ('pid' in outcome ? outcome.pid : 0));
    expect(new Set(pids).size).toBe(dirs.length);
    for (const [i, pid] of pids.entries()) {
      await vi.waitFor(() => expect(launcher.exitCodeOf(pid)).toBe(i), { timeout: 5000, interval: 10 });
      expect(launcher.isRunning(pid)).toBe(false);
      const started = JSON.parse(readFileSync(path.join(dirs[i]!, LOCAL_FILES.started), 'utf8')) as { pid: number };
      expect(started.pid, 'the answer is the pid of the wrapper launched in that folder').toBe(pid);
      expect(readFileSync(path.join(dirs[i]!, 'which.txt'), 'utf8')).toBe(`${i}\n`);
    }
  });

  it('runs a shell command line as `/bin/sh -c` would: no positional parameters, globbing on, none of the wrapper\'s variables or functions, its exit code', async () => {
    const launcher = new ProcessLauncher();
    const dir = attemptDir();
    const line = 'touch g1.dat g2.dat; printf "%s|" "$#" "$1" "${cg-unset}" "${how-unset}" "${st-unset}" *.dat > seen.txt; command -v field22 >> seen.txt; (exit 7)';
    const outcome = await launcher.launch({ dir, env: {}, argv: ['', 'shell', line] });
    if (!('pid' in outcome)) throw new Error('claimed');
    await vi.waitFor(() => expect(launcher.exitCodeOf(outcome.pid)).toBe(7), { timeout: 5000, interval: 10 });
    expect(readFileSync(path.join(dir, 'seen.txt'), 'utf8')).toBe('0||unset|unset|unset|g1.dat|g2.dat|');
    expect(readFileSync(path.join(dir, LOCAL_FILES.exitCode), 'utf8')).toBe('7\n');
  });
});

describe('the process launcher without perl (node starts each wrapper)', () => {
  it('runs a shell command line and an argv command with the markers and the exit codes, once per claim', async () => {
    const launcher = new ProcessLauncher('direct');
    const [shellDir, argvDir] = [attemptDir(), attemptDir()];
    const shell = await launcher.launch({ dir: shellDir, env: { DECLARED: 'yes' }, argv: ['', 'shell', 'printf "%s|%s" "$#" "$DECLARED" > seen.txt; exit 3'] });
    const argv = await launcher.launch({ dir: argvDir, env: {}, argv: ['', 'argv', '/bin/sh', '-c', 'exit "$1"', 'sh', '5'] });
    if (!('pid' in shell) || !('pid' in argv)) throw new Error('claimed');
    await vi.waitFor(() => expect([launcher.exitCodeOf(shell.pid), launcher.exitCodeOf(argv.pid)]).toEqual([3, 5]), { timeout: 5000, interval: 10 });
    expect(readFileSync(path.join(shellDir, 'seen.txt'), 'utf8')).toBe('0|yes');
    for (const [dir, pid, code] of [[shellDir, shell.pid, 3], [argvDir, argv.pid, 5]] as const) {
      expect(JSON.parse(readFileSync(path.join(dir, LOCAL_FILES.started), 'utf8'))).toMatchObject({ pid });
      expect(readFileSync(path.join(dir, LOCAL_FILES.exitCode), 'utf8')).toBe(`${code}\n`);
    }
    expect(await launcher.launch({ dir: shellDir, env: {}, argv: ['', 'shell', 'true'] }), 'the claim is taken').toEqual({ claimed: true });
  });
});

// Only where this machine lets us create cgroup v2 groups (see README: Operators).
const probeCgroup = createAttemptCgroup(path.join(tempWorkspace('ms-launcher-'), 'probe'));
if (probeCgroup !== null) removeCgroup(probeCgroup);
describe.skipIf(probeCgroup === null)("the launch creates the attempt's cgroup in the wrapper's process", () => {
  it.each(['launcher', 'direct'] as const)('%s: the cgroup named first is made, the command runs in it, and it is empty once the end is heard', async (mode) => {
    const launcher = new ProcessLauncher(mode);
    const dir = attemptDir();
    const cgroup = attemptCgroupForLaunch(dir) as string;
    removeCgroup(cgroup);
    expect(existsSync(cgroup), 'not made by the orchestrator').toBe(false);
    const outcome = await launcher.launch({ dir, env: {}, argv: [cgroup, 'shell', 'cat /proc/self/cgroup > seen.txt'] });
    if (!('pid' in outcome)) throw new Error('claimed');
    await vi.waitFor(() => expect(launcher.exitCodeOf(outcome.pid)).toBe(0), { timeout: 5000, interval: 10 });
    const own = readFileSync(path.join(dir, 'seen.txt'), 'utf8').split('\n').find((line) => line.startsWith('0::'));
    expect(cgroup.endsWith(own?.slice(3) ?? 'none')).toBe(true);
    expect(cgroupPids(cgroup)).toEqual([]);
    expect(removeCgroup(cgroup)).toBe(true);
  });
});
