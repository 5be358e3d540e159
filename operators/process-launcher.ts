import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Socket } from 'node:net';
import { makeCgroup } from './attempt-cgroup.ts';
import { LOCAL_FILES, takeClaim, WRAPPER_SCRIPT } from './local-files.ts';
import type { Unsubscribe } from './operator.ts';
import { allowedEnv } from './task-env.ts';

/**
 * One attempt to start: its folder (the cwd), its variables besides the allow-list, the wrapper's
 * arguments (see WRAPPER_SCRIPT): the first names the attempt's cgroup (or is empty), which the
 * launch creates, in the wrapper's process before it starts, when it is not there yet.
 */
export interface LaunchRequest {
  dir: string;
  env: Readonly<Record<string, string>>;
  argv: readonly [cgroup: string, ...rest: string[]];
}

/** The wrapper's pid (it leads its own session and process group), or `claimed`: another launch holds the attempt's claim. */
export type LaunchOutcome = { pid: number } | { claimed: true };

/** Last field of every record: a record cut short (the orchestrator died while writing it) never matches it. */
export const END_MARK = 'matterstack-end-of-record';

/**
 * The launcher: a long-lived perl (perl-base is essential on Debian; far lighter to fork than
 * this node process) reading NUL-separated records on stdin (folder, n, n variables, m, m
 * arguments, END_MARK). For each whole record it takes the claim (O_EXCL) and forks a child that
 * creates the attempt's cgroup (the first argument, when not empty; a failure leaves the wrapper
 * outside it, killed by its process group as where there are no cgroups), leaves for a new session
 * (setsid: the wrapper leads its own session and process group) and execs the wrapper, then
 * answers `P <pid>` (`L`: claim taken; `F`: no fork, claim released) on stdout; wrappers answer
 * `X <pid> <code>` on the same pipe (their fd 3) when their command ends. On EOF (we exited, or
 * died) it leaves; the wrappers it started live on in their own sessions. Its wrappers are reaped
 * by the kernel (SIGCHLD ignored; set back to default for the wrapper).
 */
const LAUNCHER_SCRIPT = `use strict; use warnings; use POSIX (); use Fcntl qw(O_WRONLY O_CREAT O_EXCL);
my ($mark, $wrapper) = @ARGV;
$SIG{CHLD} = 'IGNORE'; $| = 1; $/ = "\\0";
sub field { my $v = <STDIN>; defined $v && chomp $v or exit 0; return $v }
while (defined(my $dir = <STDIN>)) {
  chomp $dir or exit 0;
  my @env = map { field() } 1 .. field();
  my @args = map { field() } 1 .. field();
  field() eq $mark or exit 0;
  my $claim = "$dir/${LOCAL_FILES.claim}";
  sysopen(my $fh, $claim, O_WRONLY | O_CREAT | O_EXCL) or do { print "L\\n"; next };
  close $fh;
  my $pid = fork;
  if (!defined $pid) { unlink $claim; print "F\\n"; next }
  if ($pid == 0) {
    $SIG{CHLD} = 'DEFAULT';
    mkdir $args[0] if length $args[0];
    POSIX::dup2(1, 3) // POSIX::_exit(1);
    open(STDIN, '<', '/dev/null') && open(STDOUT, '>>', "$dir/${LOCAL_FILES.stdout}") && open(STDERR, '>>', "$dir/${LOCAL_FILES.stderr}") && chdir($dir) or POSIX::_exit(1);
    for (@env) { my ($name, $value) = split /=/, $_, 2; $ENV{$name} = $value }
    POSIX::setsid();
    exec { '/bin/sh' } '/bin/sh', '-c', $wrapper, 'matterstack-wrapper', @args;
    POSIX::_exit(127);
  }
  print "P $pid\\n";
}
`;

const PERL = '/usr/bin/perl';

/** The launcher's stdin and stdout are pipes (sockets): they can be unref'd. */
type Launcher = ChildProcessByStdio<Socket, Socket, null>;

/** The launcher's command line (perl, the script and its arguments), or null where perl is missing. */
export function launcherCommand(): { file: string; args: string[] } | null {
  if (!existsSync(PERL)) return null;
  return { file: PERL, args: ['-e', LAUNCHER_SCRIPT, END_MARK, WRAPPER_SCRIPT] };
}

/**
 * Starts attempt wrappers for one LocalOperator: through the perl launcher when perl is there (a
 * fork of perl instead of a fork of this big node process), else (or for a task whose variables
 * cannot go through it) directly with node's spawn. The task's environment is
 * the allow-list of ours (as it was when the launcher started) plus the request's variables.
 */
export class ProcessLauncher {
  /** `direct`: every wrapper through node's spawn, as where perl is missing. */
  constructor(private readonly mode: 'launcher' | 'direct' = 'launcher') {}

  private launcher: Launcher | undefined;
  private readonly pending: ((outcome: LaunchOutcome | Error) => void)[] = [];
  private partial = '';
  private readonly exitListeners = new Map<number, Set<() => void>>();
  /** Records not written to the launcher yet: the launches of one event-loop turn go in one write (one wake-up of the launcher). */
  private unwritten: string[] = [];
  /** Wrappers started here whose end has not been reported yet (emptied when the launcher dies: their ends would go unheard). */
  private readonly runningPids = new Set<number>();
  /** Exit codes reported by wrappers started here, until `forget`. */
  private readonly exitCodes = new Map<number, number>();
  /** Wrappers whose end was heard before the launcher answered their launch (see `started`). */
  private readonly endedBeforeAnswer = new Set<number>();

  /** Takes the attempt's claim and starts its wrapper; `claimed` when another launch holds the claim. */
  launch(request: LaunchRequest): Promise<LaunchOutcome> {
    const launcher = this.launcherFor(request);
    if (launcher === null) return this.launchDirect(request);
    const env = Object.entries(request.env).map(([name, value]) => `${name}=${value}`);
    const record = [request.dir, String(env.length), ...env, String(request.argv.length), ...request.argv, END_MARK];
    return new Promise((resolve, reject) => {
      this.pending.push((outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome)));
      launcher.stdout.ref();
      if (this.unwritten.push(`${record.join('\0')}\0`) === 1) process.nextTick(() => this.writeRecords(launcher));
    });
  }

  private writeRecords(launcher: Launcher): void {
    const records = this.unwritten.join('');
    this.unwritten = [];
    launcher.stdin.write(records);
  }

  /** True while the wrapper `pid` started here runs as far as this launcher knows (false when it cannot know: its end could go unheard). */
  isRunning(pid: number): boolean {
    return this.runningPids.has(pid);
  }

  /** The exit code the wrapper `pid` started here reported, if it did. */
  exitCodeOf(pid: number): number | undefined {
    return this.exitCodes.get(pid);
  }

  /** Drops what this launcher remembers of the wrapper `pid` (its results are collected). */
  forget(pid: number): void {
    this.runningPids.delete(pid);
    this.exitCodes.delete(pid);
  }

  /** The running launcher (started if need be), or null where there is none or the request cannot go through it. */
  private launcherFor(request: LaunchRequest): Launcher | null {
    const names = Object.keys(request.env);
    const fields = [request.dir, ...names, ...Object.values(request.env), ...request.argv];
    if (this.mode === 'direct' || fields.some((field) => field.includes('\0')) || names.some((name) => name === '' || name.includes('='))) return null;
    if (this.launcher !== undefined) return this.launcher;
    const command = launcherCommand();
    return command === null ? null : this.startLauncher(command);
  }

  /** Calls `listener` when the wrapper `pid` this launcher started ends (its exit code is written by then). */
  onExit(pid: number, listener: () => void): Unsubscribe {
    const listeners = this.exitListeners.get(pid) ?? new Set();
    listeners.add(listener);
    this.exitListeners.set(pid, listeners);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.exitListeners.get(pid) === listeners) this.exitListeners.delete(pid);
    };
  }

  private started(pid: number): void {
    // A command quick enough may end before the launcher answered its launch: its end came first.
    if (this.endedBeforeAnswer.delete(pid)) return;
    this.exitCodes.delete(pid);
    this.runningPids.add(pid);
  }

  private exited(pid: number, code: number | null): void {
    if (!this.runningPids.delete(pid) && this.pending.length > 0) this.endedBeforeAnswer.add(pid);
    if (code !== null) this.exitCodes.set(pid, code);
    for (const listener of this.exitListeners.get(pid) ?? []) listener();
  }

  private startLauncher(command: { file: string; args: string[] }): Launcher {
    const launcher = spawn(command.file, command.args, {
      cwd: '/',
      // Never the orchestrator's environment (secrets): only the allow-list, to which each task's variables are added.
      env: allowedEnv(),
      stdio: ['pipe', 'pipe', 'ignore'],
    }) as Launcher;
    this.launcher = launcher;
    launcher.stdout.setEncoding('utf8');
    launcher.stdout.on('data', (chunk: string) => this.read(chunk));
    // A write after the launcher died fails here; its exit below answers the launches waiting.
    launcher.stdin.on('error', () => undefined);
    const gone = (error?: Error): void => {
      if (this.launcher === launcher) this.launcher = undefined;
      // Its wrappers live on, but their ends would go unheard: the operator reads their markers instead.
      this.runningPids.clear();
      this.endedBeforeAnswer.clear();
      this.unwritten = [];
      const reason = error ?? new Error('the process launcher exited');
      for (const answer of this.pending.splice(0)) answer(reason);
    };
    launcher.on('error', gone);
    launcher.on('exit', () => gone());
    // Neither the launcher nor its pipes keep us alive, but a launch waiting for its answer does (see `read`).
    launcher.unref();
    launcher.stdin.unref();
    return launcher;
  }

  private read(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const [kind, pid, code] = line.split(' ');
      if (kind === 'X') this.exited(Number(pid), code === undefined || !/^\d+$/.test(code) ? null : Number(code));
      else if (kind === 'P') {
        this.started(Number(pid));
        this.pending.shift()?.({ pid: Number(pid) });
      } else if (kind === 'L') this.pending.shift()?.({ claimed: true });
      else if (kind === 'F') this.pending.shift()?.(new Error('the process launcher could not fork (process or memory limit reached)'));
    }
    if (this.pending.length === 0) this.launcher?.stdout.unref();
  }

  /** node's own spawn: the claim taken here, the wrapper in its own session. */
  private launchDirect(request: LaunchRequest): Promise<LaunchOutcome> {
    if (!takeClaim(request.dir)) return Promise.resolve({ claimed: true });
    // Not started: the claim goes (a later submit may try again).
    const release = (): void => rmSync(path.join(request.dir, LOCAL_FILES.claim), { force: true });
    let out: number | undefined;
    let err: number | undefined;
    try {
      if (request.argv[0] !== '') makeCgroup(request.argv[0]);
      out = openSync(path.join(request.dir, LOCAL_FILES.stdout), 'a');
      err = openSync(path.join(request.dir, LOCAL_FILES.stderr), 'a');
      const child = spawn('/bin/sh', ['-c', WRAPPER_SCRIPT, 'matterstack-wrapper', ...request.argv], {
        cwd: request.dir,
        detached: true,
        stdio: ['ignore', out, err],
        env: { ...allowedEnv(), ...request.env },
      });
      child.unref();
      return new Promise((resolve, reject) => {
        child.once('error', (error) => {
          release();
          reject(error);
        });
        child.once('spawn', () => {
          if (child.pid !== undefined) this.started(child.pid);
          resolve({ pid: child.pid ?? 0 });
        });
        // The wrapper exits with its command's code (null when a signal ended the wrapper itself: its marker tells).
        child.once('exit', (code) => child.pid !== undefined && this.exited(child.pid, code));
      });
    } catch (error) {
      release();
      throw error;
    } finally {
      if (out !== undefined) closeSync(out);
      if (err !== undefined) closeSync(err);
    }
  }
}
