import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { rootLogger } from '../events/logger.ts';
import { LaunchReplySchema, type LaunchReply, type LaunchRequest } from './launcher-protocol.ts';
import type { Unsubscribe } from './operator.ts';

const LAUNCHER = fileURLToPath(new URL('./task-launcher.mjs', import.meta.url));
/**
 * Node flags of the launcher: a small young generation keeps its memory, which every fork copies
 * the page tables of, small (it allocates little: a few objects per start).
 */
const LAUNCHER_NODE_FLAGS = ['--max-semi-space-size=1'];

/** A launch's answer: the command started, or why it did not. */
export type LaunchOutcome = Exclude<LaunchReply, { kind: 'exited' }>;

/**
 * The orchestrator's side of the launcher process (task-launcher.mjs): sends it launch requests,
 * hands back its answers, and tells who listens when a command it started exits. The launcher is
 * started on the first launch and again after it ended (it ends once its input closes and its
 * commands have exited: when this process has gone).
 */
export class LauncherClient {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(outcome: LaunchOutcome): void; reject(error: Error): void }>();
  private readonly exitListeners = new Map<string, Set<() => void>>();
  /** Attempt folders whose command the launcher started and that have not exited yet. */
  private readonly running = new Set<string>();

  /** Asks the launcher to start the command of `request.dir` (see LaunchReplySchema for the answers). */
  launch(request: Omit<LaunchRequest, 'id'>): Promise<LaunchOutcome> {
    const child = this.child ?? this.start();
    const id = this.nextId++;
    return new Promise<LaunchOutcome>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Waiting for an answer keeps this process alive; nothing else about the launcher does.
      this.refOutput(true);
      child.stdin!.write(`${JSON.stringify({ ...request, id })}\n`);
    });
  }

  /** The launcher's pid while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** True while the command of `dir`, started by this launcher, runs: its exit will be told to `onExit` listeners. */
  isRunning(dir: string): boolean {
    return this.running.has(dir);
  }

  /** Calls `listener` when the command of `dir` exits (its exit marker is written by then). */
  onExit(dir: string, listener: () => void): Unsubscribe {
    let listeners = this.exitListeners.get(dir);
    if (listeners === undefined) this.exitListeners.set(dir, (listeners = new Set()));
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.exitListeners.get(dir) === listeners) this.exitListeners.delete(dir);
    };
  }

  private start(): ChildProcess {
    // Detached: a Ctrl-C or a kill of the orchestrator's process group leaves it to record the exits.
    // Its stderr is a pipe of ours, not our stderr: it may outlive us, and whoever reads our stderr
    // (`matterstack step 2>&1 | tee`) would otherwise wait for it, i.e. for the tasks to end.
    const child = spawn(process.execPath, [...LAUNCHER_NODE_FLAGS, LAUNCHER, 'serve'], { cwd: path.dirname(LAUNCHER), detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.unref();
    child.stdin!.on('error', () => undefined);
    createInterface({ input: child.stdout! }).on('line', (line) => this.receive(line));
    createInterface({ input: child.stderr! }).on('line', (line) => rootLogger().warn({ launcherPid: child.pid }, line));
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      const error = new Error(`the task launcher ended (${signal ?? `exit code ${code}`}) before answering`);
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
      this.running.clear();
      this.refOutput(false);
    });
    this.refOutput(false);
    return child;
  }

  private receive(line: string): void {
    let parsed;
    try {
      parsed = LaunchReplySchema.safeParse(JSON.parse(line));
    } catch {
      // Not JSON: nothing the launcher says (the schema refuses it the same way).
      return;
    }
    if (!parsed.success) return;
    const message = parsed.data;
    if (message.kind === 'exited') {
      this.running.delete(message.dir);
      for (const listener of this.exitListeners.get(message.dir) ?? []) listener();
      return;
    }
    if (message.kind === 'started') this.running.add(message.dir);
    const waiting = this.pending.get(message.id);
    this.pending.delete(message.id);
    if (this.pending.size === 0) this.refOutput(false);
    waiting?.resolve(message);
  }

  private refOutput(ref: boolean): void {
    const output = this.child?.stdout as { ref?(): void; unref?(): void } | null | undefined;
    if (ref) output?.ref?.();
    else output?.unref?.();
    for (const stream of [this.child?.stdin, this.child?.stderr]) (stream as { unref?(): void } | null | undefined)?.unref?.();
  }
}

let shared: LauncherClient | undefined;

/** The process's launcher: every local operator of this process starts its commands through it. */
export function sharedLauncher(): LauncherClient {
  shared ??= new LauncherClient();
  return shared;
}
