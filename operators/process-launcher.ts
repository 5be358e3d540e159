import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Socket } from 'node:net';
import { LOCAL_FILES, takeClaim, WRAPPER_SCRIPT } from './local-files.ts';
import type { Unsubscribe } from './operator.ts';
import { allowedEnv } from './task-env.ts';

/** One attempt to start: its folder (the cwd), its variables besides the allow-list, the wrapper's arguments (see WRAPPER_SCRIPT). */
export interface LaunchRequest {
  dir: string;
  env: Readonly<Record<string, string>>;
  argv: readonly string[];
}

/** The wrapper's pid (it leads its own session and process group), or `claimed`: another launch holds the attempt's claim. */
export type LaunchOutcome = { pid: number } | { claimed: true };

/** Last field of every record: a record cut short (the orchestrator died while writing it) never matches it. */
export const END_MARK = 'matterstack-end-of-record';

/**
 * The launcher: a long-lived bash reading NUL-separated records on stdin (folder, n, n variables,
 * m, m arguments, END_MARK). For each whole record it takes the claim (noclobber: O_EXCL) and
 * forks the wrapper in a new session (a background subshell of a non-interactive bash is no
 * group leader: setsid execs without forking), then answers `P <pid>` (or `L`: claim taken) on
 * stdout; wrappers answer `X <pid> <code>` on the same pipe when their command ends. On EOF (we
 * exited, or died) it leaves; the wrappers it started live on in their own sessions.
 */
const LAUNCHER_SCRIPT = `set -f -C
mark=$1 setsid=$2 wrapper=$3
r() { IFS= read -r -d '' "$1"; }
while r dir; do
  r n || exit; env=(); for ((i = 0; i < n; i++)); do r v || exit; env+=("$v"); done
  r n || exit; args=(); for ((i = 0; i < n; i++)); do r v || exit; args+=("$v"); done
  r end && [[ $end == "$mark" ]] || exit
  if ! { : > "$dir/${LOCAL_FILES.claim}"; } 2>/dev/null; then echo L; continue; fi
  ( cd -- "$dir" || exit; unset PWD OLDPWD SHLVL; ((\${#env[@]} == 0)) || export -- "\${env[@]}" || exit
    exec "$setsid" /bin/sh -c "$wrapper" matterstack-wrapper "\${args[@]}" ) 3>&1 </dev/null >>"$dir/${LOCAL_FILES.stdout}" 2>>"$dir/${LOCAL_FILES.stderr}" &
  echo "P $!"
done
`;

const BASH = '/bin/bash';
const SETSID = ['/usr/bin/setsid', '/bin/setsid'].find((file) => existsSync(file));
/** Variable names bash cannot export as given (readonly, special, or changing bash itself): such a task goes the direct way. */
const BASH_SPECIAL = /^(BASH\w*|SHELLOPTS|EUID|UID|PPID|GROUPS|FUNCNAME|RANDOM|SRANDOM|SECONDS|LINENO|HISTCMD|EPOCHREALTIME|EPOCHSECONDS|DIRSTACK|POSIXLY_CORRECT|IFS|COMP_\w+|_)$/;

/** The launcher's stdin and stdout are pipes (sockets): they can be unref'd. */
type Launcher = ChildProcessByStdio<Socket, Socket, null>;

/** The launcher's command line (bash, the script and its arguments), or null where bash or setsid is missing. */
export function launcherCommand(): { file: string; args: string[] } | null {
  if (SETSID === undefined || !existsSync(BASH)) return null;
  // --norc: our pipes are sockets, and bash would take its stdin for an ssh session's and read ~/.bashrc.
  return { file: BASH, args: ['--norc', '--noprofile', '-c', LAUNCHER_SCRIPT, 'matterstack-launcher', END_MARK, SETSID, WRAPPER_SCRIPT] };
}

/**
 * Starts attempt wrappers for one LocalOperator: through the bash launcher when /bin/bash and
 * setsid are there (a fork of bash instead of a fork of this big node process), else (or for a
 * task whose variables bash cannot export) directly with node's spawn. The task's environment is
 * the allow-list of ours (as it was when the launcher started) plus the request's variables.
 */
export class ProcessLauncher {
  private launcher: Launcher | undefined;
  private readonly pending: ((outcome: LaunchOutcome | Error) => void)[] = [];
  private partial = '';
  private readonly exitListeners = new Map<number, Set<() => void>>();
  /** Records not written to the launcher yet: the launches of one event-loop turn go in one write (one wake-up of bash). */
  private unwritten: string[] = [];
  /** Wrappers started here whose end has not been reported yet (emptied when the bash launcher dies: their ends would go unheard). */
  private readonly runningPids = new Set<number>();
  /** Exit codes reported by wrappers started here, until `forget`. */
  private readonly exitCodes = new Map<number, number>();
  /** Wrappers whose end was heard before bash answered their launch (see `started`). */
  private readonly endedBeforeAnswer = new Set<number>();

  /** Takes the attempt's claim and starts its wrapper; `claimed` when another launch holds the claim. */
  launch(request: LaunchRequest): Promise<LaunchOutcome> {
    const launcher = this.bashFor(request);
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

  /** The running launcher (started if need be), or null where there is none or the request cannot go through bash. */
  private bashFor(request: LaunchRequest): Launcher | null {
    const names = Object.keys(request.env);
    const fields = [request.dir, ...names, ...Object.values(request.env), ...request.argv];
    if (fields.some((field) => field.includes('\0')) || names.some((name) => !/^[A-Za-z_]\w*$/.test(name) || BASH_SPECIAL.test(name))) return null;
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
    // A command quick enough may end before bash answered its launch: its end came first.
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
      // Never the orchestrator's environment (secrets): only the allow-list; bash's own PWD, OLDPWD and SHLVL are unset per task.
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
