import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Socket } from 'node:net';
import { makeCgroup } from './attempt-cgroup.ts';
import { ATTEMPT_SCRIPT, LOCAL_FILES, takeClaim, WRAPPER_SCRIPT } from './local-files.ts';
import type { Unsubscribe } from './operator.ts';
import { allowedEnv } from './task-env.ts';

/**
 * One attempt to start: its folder (the cwd), its variables besides the allow-list, and
 * `[cgroup or '', 'argv' | 'shell', ...command]` (as WRAPPER_SCRIPT takes them): the cgroup, when
 * named, is created in the attempt's own process before its command starts, when it is not there yet.
 */
export interface LaunchRequest {
  dir: string;
  env: Readonly<Record<string, string>>;
  argv: readonly [cgroup: string, ...rest: string[]];
}

/** The attempt's pid (it leads its own session and process group), or `claimed`: another launch holds the attempt's claim. */
export type LaunchOutcome = { pid: number } | { claimed: true };

/** Last field of every record: a record cut short (the orchestrator died while writing it) never matches it. */
export const END_MARK = 'matterstack-end-of-record';

/**
 * The launcher: a long-lived perl (perl-base is essential on Debian; far lighter to fork than this
 * node process) that starts each attempt itself and is its reaper, so a task costs one process. It
 * reads NUL-separated records on stdin (folder, n, n variables, m, m arguments: cgroup or '',
 * `argv` or `shell`, the command; END_MARK). For each whole record it takes the claim (O_EXCL) and
 * forks a child that leaves for a new session (the attempt leads its own session and process
 * group), enters the attempt's folder, creates its cgroup when named (a failure leaves the command
 * outside it, killed by its process group as where there are no cgroups), sets the task's variables,
 * takes back the default SIGPIPE (an ignored signal stays ignored across exec) and execs
 * ATTEMPT_SCRIPT, which records the start and becomes the command. It answers `P <pid>` (`L`: claim
 * taken; `F`: no fork, claim released) on stdout. When an attempt ends it writes its exit code
 * (128 + the signal's number for a signal, as a shell reports it), then answers `X <pid> <code>`.
 * It runs in its own session, away from the terminal's signals, and on EOF (we exited, or died) it
 * reads no more records but stays until every attempt it started has ended and its exit code is
 * written: a kill -9 of the orchestrator loses no exit. The exit code is written in place.
 */
const LAUNCHER_SCRIPT = `use strict; use warnings; use POSIX (); use Fcntl qw(O_WRONLY O_CREAT O_EXCL F_SETFL O_NONBLOCK);
my ($mark, $attempt) = @ARGV;
my (%running, @fields);
my ($reading, $buffer) = (1, '');
pipe(my $wake, my $waker) or exit 1;
fcntl($waker, F_SETFL, O_NONBLOCK);
$SIG{CHLD} = sub { syswrite $waker, 'c' };
$SIG{PIPE} = 'IGNORE'; $| = 1;
sub start_command {
  my ($dir, $env, $cgroup, @rest) = @_;
  $SIG{PIPE} = 'DEFAULT';
  POSIX::setsid();
  chdir $dir or POSIX::_exit(1);
  mkdir $cgroup if length $cgroup;
  for (@$env) { my ($name, $value) = split /=/, $_, 2; $ENV{$name} = $value }
  exec { '/bin/sh' } 'sh', '-c', $attempt, 'matterstack-attempt', $cgroup, @rest;
  POSIX::_exit(127);
}
sub launch {
  my ($dir, $env, $args) = @_;
  my $claim = "$dir/${LOCAL_FILES.claim}";
  sysopen(my $fh, $claim, O_WRONLY | O_CREAT | O_EXCL) or do { print "L\\n"; return };
  close $fh;
  my $pid = fork;
  if (!defined $pid) { unlink $claim; print "F\\n"; return }
  start_command($dir, $env, @$args) if $pid == 0;
  $running{$pid} = $dir;
  print "P $pid\\n";
}
sub launch_whole_records {
  my @pieces = split /\\0/, $buffer, -1;
  $buffer = pop(@pieces) // '';
  push @fields, @pieces;
  while (@fields >= 2) {
    my $envs = $fields[1];
    $envs =~ /^\\d+\\z/ or return stop_reading();
    last if @fields < $envs + 3;
    my $args = $fields[$envs + 2];
    $args =~ /^\\d+\\z/ && $args >= 3 or return stop_reading();
    my $end = $envs + $args + 3;
    last if @fields <= $end;
    my @record = splice @fields, 0, $end + 1;
    $record[$end] eq $mark or return stop_reading();
    launch($record[0], [@record[2 .. $envs + 1]], [@record[$envs + 3 .. $end - 1]]);
  }
}
sub stop_reading { $reading = 0; @fields = (); $buffer = '' }
sub reap {
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
    my $status = $?;
    my $dir = delete $running{$pid} // next;
    my $code = ($status & 127) ? 128 + ($status & 127) : $status >> 8;
    if (open(my $fh, '>', "$dir/${LOCAL_FILES.exitCode}")) { print $fh "$code\\n"; close $fh }
    print "X $pid $code\\n";
  }
}
while ($reading || %running) {
  my $wanted = '';
  vec($wanted, fileno($wake), 1) = 1;
  vec($wanted, 0, 1) = 1 if $reading;
  my $ready = select(my $got = $wanted, undef, undef, undef);
  sysread($wake, my $drained, 4096) if $ready > 0 && vec($got, fileno($wake), 1);
  reap();
  next unless $ready > 0 && $reading && vec($got, 0, 1);
  my $read = sysread(STDIN, $buffer, 65536, length $buffer);
  if ($read) { launch_whole_records() } elsif (defined $read || !$!{EINTR}) { stop_reading() }
}
`;

const PERL = '/usr/bin/perl';

/** The launcher's stdin and stdout are pipes (sockets): they can be unref'd. */
type Launcher = ChildProcessByStdio<Socket, Socket, null>;

/** The launcher's command line (perl, the script and its arguments), or null where perl is missing. */
export function launcherCommand(): { file: string; args: string[] } | null {
  if (!existsSync(PERL)) return null;
  return { file: PERL, args: ['-e', LAUNCHER_SCRIPT, END_MARK, ATTEMPT_SCRIPT] };
}

/**
 * Starts the attempts of one LocalOperator: through the perl launcher when perl is there (one
 * fork of perl per task, the command's own process), else (or for a task whose variables cannot
 * go through it) as WRAPPER_SCRIPT with node's spawn, the wrapper recording what the launcher
 * records. The task's environment is the allow-list of ours (as it was when the launcher started)
 * plus the request's variables.
 */
export class ProcessLauncher {
  /** `direct`: every attempt through node's spawn and the wrapper, as where perl is missing. */
  constructor(private readonly mode: 'launcher' | 'direct' = 'launcher') {}

  private launcher: Launcher | undefined;
  private readonly pending: ((outcome: LaunchOutcome | Error) => void)[] = [];
  private partial = '';
  private readonly exitListeners = new Map<number, Set<() => void>>();
  /** Records not written to the launcher yet: the launches of one event-loop turn go in one write (one wake-up of the launcher). */
  private unwritten: string[] = [];
  /** Attempts started here whose end has not been reported yet (emptied when the launcher dies: their ends would go unheard). */
  private readonly runningPids = new Set<number>();
  /** Exit codes reported for attempts started here, until `forget`. */
  private readonly exitCodes = new Map<number, number>();

  /** Takes the attempt's claim and starts its command; `claimed` when another launch holds the claim. */
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

  /** True while the attempt `pid` started here runs as far as this launcher knows (false when it cannot know: its end could go unheard). */
  isRunning(pid: number): boolean {
    return this.runningPids.has(pid);
  }

  /** The exit code of the attempt `pid` started here, once its end was reported. */
  exitCodeOf(pid: number): number | undefined {
    return this.exitCodes.get(pid);
  }

  /** Drops what this launcher remembers of the attempt `pid` (its results are collected). */
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

  /** Calls `listener` when the attempt `pid` this launcher started ends (its exit code is written by then). */
  onExit(pid: number, listener: () => void): Unsubscribe {
    const listeners = this.exitListeners.get(pid) ?? new Set();
    listeners.add(listener);
    this.exitListeners.set(pid, listeners);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.exitListeners.get(pid) === listeners) this.exitListeners.delete(pid);
    };
  }

  // The launcher answers a launch before it reports that command's end; node's spawn event comes before its exit event.
  private started(pid: number): void {
    this.exitCodes.delete(pid);
    this.runningPids.add(pid);
  }

  private exited(pid: number, code: number | null): void {
    this.runningPids.delete(pid);
    if (code !== null) this.exitCodes.set(pid, code);
    for (const listener of this.exitListeners.get(pid) ?? []) listener();
  }

  private startLauncher(command: { file: string; args: string[] }): Launcher {
    const launcher = spawn(command.file, command.args, {
      cwd: '/',
      // Its own session: a Ctrl-C meant for us does not reach the reaper of the running attempts.
      detached: true,
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
      // Its commands live on, but their ends would go unheard (and unrecorded: they are lost): the operator reads their markers instead.
      this.runningPids.clear();
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
