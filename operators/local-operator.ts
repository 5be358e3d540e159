import { setTimeout as sleep } from 'node:timers/promises';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { MatterStackError } from '../events/errors.ts';
import type { JsonObject } from '../events/json.ts';
import { readTextIfExists, replaceFileSync, writeFileAtomic } from './atomic-file.ts';
import { checkedAttemptCgroup, createAttemptCgroup, removeCgroup } from './attempt-cgroup.ts';
import type { AttemptLogFiles, LogStream } from './attempt-log.ts';
import { collectTaskResults } from './collect-attempt-files.ts';
import type { CollectedResults, Operator, OperatorContext, PollResult, SubmitResult, Unsubscribe } from './operator.ts';
import { isTerminalPoll, operatorLog } from './operator.ts';
import { AdoptedFolders, prepareAttemptDir } from './prepare-attempt-dir.ts';
import { attemptPids, isProcessAlive, killAttemptProcesses, type AttemptProcesses } from './process-group.ts';
import { allowedEnv, taskProcessEnv } from './task-env.ts';
import { sharedLauncher, type LauncherClient } from './launcher-client.ts';
import { StartedSchema, type Started } from './launcher-protocol.ts';
import { LOCAL_FILES } from './local-attempt-files.ts';
import { DEFAULT_POLL_INTERVAL_MS, watchAttemptDir } from './watch-attempt-dir.ts';
import { SingleFlight } from './single-flight.ts';

const KilledSchema = z.object({ status: z.enum(['CANCELLED', 'FAILED']), reason: z.string() });

/** Tunables (tests shorten them). */
export interface LocalOperatorOptions {
  /** Polling fallback of `watch` (default 1 s). */
  pollIntervalMs?: number;
  /** SIGTERM → SIGKILL grace when killing a process group (default 5 s). */
  killGraceMs?: number;
  /** How long `submit` waits for the start marker of a launch another process claimed (default 10 s). */
  startTimeoutMs?: number;
  /** Put each attempt in its own cgroup where cgroup v2 is writable (default true); else process groups only. */
  cgroups?: boolean;
  /** Who starts the commands (default: this process's launcher). */
  launcher?: LauncherClient;
}

async function readJson<T>(file: string, schema: z.ZodType<T>): Promise<T | null> {
  const text = await readTextIfExists(file);
  if (text === null) return null;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Operator `local`: the task's command as a real child process in its own session (SPEC §2). */
export class LocalOperator implements Operator {
  readonly kind: string = 'local';
  private readonly submitting = new SingleFlight<SubmitResult>();
  private readonly pollIntervalMs: number;
  private readonly killGraceMs: number;
  private readonly startTimeoutMs: number;
  private readonly cgroups: boolean;
  private readonly launcher: LauncherClient;
  /** The orchestrator's allow-listed variables (task-env.ts), read once: every task gets them. */
  private readonly baseEnv = allowedEnv();
  private readonly folders = new AdoptedFolders();
  /** Attempt folders this instance prepared: a submit after the prepare need not check the folder again. */
  private readonly prepared = new Set<string>();
  /** The cgroup this instance made for an attempt folder (null: none), so reading its marker again is not needed. */
  private readonly cgroupsMade = new Map<string, string | null>();
  /** Attempt folders whose processes this instance is killing right now (SIGTERM grace running). */
  private readonly killing = new Set<string>();

  constructor(options: LocalOperatorOptions = {}) {
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.killGraceMs = options.killGraceMs ?? 5000;
    this.startTimeoutMs = options.startTimeoutMs ?? 10_000;
    this.cgroups = options.cgroups ?? true;
    this.launcher = options.launcher ?? sharedLauncher();
  }

  /** Creates the attempt directory, stages files, writes the manifest. */
  async prepare(ctx: OperatorContext): Promise<void> {
    if (ctx.task.command === undefined) throw this.error(ctx, 'has no command to run');
    if (this.prepared.has(ctx.attempt.dir)) return;
    await prepareAttemptDir(ctx);
    this.prepared.add(ctx.attempt.dir);
  }

  /** Starts the command once; a second call (or a new instance after a restart) re-adopts it. */
  submit(ctx: OperatorContext): Promise<SubmitResult> {
    return this.submitting.run(ctx.attempt.dir, () => this.submitOnce(ctx));
  }

  private async submitOnce(ctx: OperatorContext): Promise<SubmitResult> {
    const dir = ctx.attempt.dir;
    const file = (name: string): string => path.join(dir, name);
    // Idempotent, and refuses a folder bound to another attempt before any marker in it is read.
    await this.prepare(ctx);
    if ((await readTextIfExists(file(LOCAL_FILES.killed))) !== null) throw this.error(ctx, 'was cancelled before it started');

    // The exit code first: the launcher writes it after the start marker, so a command that ends
    // between the two reads is still seen as started.
    const exited = (await readTextIfExists(file(LOCAL_FILES.exitCode))) !== null;
    let started = await readJson(file(LOCAL_FILES.started), StartedSchema);
    if (started === null && !exited) {
      // Launching again is safe even if an earlier launch is still starting: the claim lets only
      // one of them run the command, and the loser's launch adopts the winner.
      started = await this.launch(ctx);
    }
    const pid = started?.pid ?? 0;
    const operatorData: JsonObject = started === null ? {} : { pid, procStartTime: started.procStartTime, startedAt: started.startedAt };
    return { externalId: String(pid), status: 'RUNNING', operatorData };
  }

  /** Starts the command through the launcher: its start marker, or null when it could not be executed (its exit marker says why). */
  private async launch(ctx: OperatorContext): Promise<Started | null> {
    const dir = ctx.attempt.dir;
    const command = ctx.task.command;
    if (command === undefined) throw this.error(ctx, 'has no command to run');
    const argv = typeof command === 'string' ? ['/bin/sh', '-c', command] : command;
    const cgroup = this.cgroups ? createAttemptCgroup(dir) : null;
    // Not flushed: a cgroup does not outlive a power loss either.
    if (cgroup !== null) replaceFileSync(path.join(dir, LOCAL_FILES.cgroup), `${cgroup}\n`);
    this.cgroupsMade.set(dir, cgroup);
    // Never the orchestrator's environment (secrets): the allow-list, the task's env, ours.
    const env = taskProcessEnv(ctx.task.env, { runId: ctx.runId, taskId: ctx.task.id, attemptId: ctx.attempt.attemptId, attemptDir: dir }, this.baseEnv);
    let outcome;
    try {
      outcome = await this.launcher.launch({ dir, argv, env, cgroup });
    } catch (error) {
      throw this.error(ctx, `could not start: ${(error as Error).message}`);
    }
    if (outcome.kind === 'started') return outcome.started;
    switch (outcome.why) {
      case 'unrunnable':
        return null;
      case 'cancelled':
        throw this.error(ctx, 'was cancelled before it started');
      case 'failed':
        throw this.error(ctx, `could not start: ${outcome.message}`);
      case 'claimed': {
        const winner = await this.waitForStart(ctx, this.startTimeoutMs);
        if (winner !== null || (await readTextIfExists(path.join(dir, LOCAL_FILES.exitCode))) !== null) return winner;
        throw this.error(ctx, 'an earlier launch claimed the attempt but never started (was the machine restarted?)');
      }
    }
  }

  /** The start marker another launch writes, once it is there (null after `timeoutMs`). */
  private async waitForStart(ctx: OperatorContext, timeoutMs: number): Promise<Started | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const started = await readJson(path.join(ctx.attempt.dir, LOCAL_FILES.started), StartedSchema);
      if (started !== null || Date.now() >= deadline) return started;
      await sleep(10);
    }
  }

  /** COMPLETED on exit 0, FAILED with the exit code, the time limit or "lost", CANCELLED after cancel; FAILED for a folder of another attempt. */
  async poll(ctx: OperatorContext): Promise<PollResult> {
    const dir = ctx.attempt.dir;
    const file = (name: string): string => path.join(dir, name);
    const folder = await this.folders.status(ctx);
    if (folder === 'unused') return { status: 'CREATED' };
    if (folder !== 'bound') return folder;
    const killed = await this.killedStatus(dir);
    if (killed !== null) return killed;
    const finished = await this.exitStatus(dir);
    if (finished !== null) {
      await this.releaseCgroup(dir);
      return finished;
    }

    const started = await readJson(file(LOCAL_FILES.started), StartedSchema);
    const launchedAt = await claimTime(file(LOCAL_FILES.claim));
    if (started === null) {
      if (launchedAt === null) return { status: 'CREATED' };
      if (Date.now() - launchedAt > this.startTimeoutMs * 3) {
        return { status: 'FAILED', reason: 'lost: the process never recorded its start' };
      }
      return { status: 'SUBMITTED' };
    }
    if (isProcessAlive(started.pid, started.procStartTime)) {
      const limitMinutes = ctx.task.timeLimitMinutes;
      const since = launchedAt ?? Date.parse(started.startedAt);
      if (limitMinutes !== undefined && Date.now() - since > limitMinutes * 60_000) {
        const reason = `time limit of ${limitMinutes} minute(s) exceeded: process group killed`;
        await this.kill(dir, started, { status: 'FAILED', reason });
        return { status: 'FAILED', reason };
      }
      return { status: 'RUNNING' };
    }
    // Dead: read the exit code again, it may have been written since the read above.
    const after = await this.exitStatus(dir);
    if (after !== null) return after;
    // Its launcher writes the exit marker once it has reaped the process: a moment after it died.
    if (started.launcher !== undefined && isProcessAlive(started.launcher.pid, started.launcher.procStartTime)) return { status: 'RUNNING' };
    return { status: 'FAILED', reason: `lost: process ${started.pid} is gone without an exit code` };
  }

  /** The processes of a started attempt: its group and session, and its cgroup (only one made for this folder). */
  private async processesOf(dir: string, started: Started): Promise<AttemptProcesses> {
    return { pgid: started.pid, cgroup: await this.cgroupOf(dir) };
  }

  /**
   * The outcome a kill marker records, once every process of the attempt is gone. A kill this
   * instance started is still in its grace: RUNNING meanwhile. A kill nobody is finishing (the
   * host that began it crashed, or a task ignored SIGTERM) is finished here with SIGKILL.
   */
  private async killedStatus(dir: string): Promise<PollResult | null> {
    const killed = await readJson(path.join(dir, LOCAL_FILES.killed), KilledSchema);
    if (killed === null) return null;
    const started = await readJson(path.join(dir, LOCAL_FILES.started), StartedSchema);
    if (started === null) return killed;
    const target = await this.processesOf(dir, started);
    if (attemptPids(target).length === 0 && !isProcessAlive(started.pid, started.procStartTime)) {
      if (target.cgroup !== null) removeCgroup(target.cgroup);
      return killed;
    }
    if (this.killing.has(dir)) return { status: 'RUNNING' };
    await this.killNow(dir, target, 0);
    return killed;
  }

  /** The attempt's cgroup, if it has one (only one made for this folder: the marker is not trusted blindly). */
  private async cgroupOf(dir: string): Promise<string | null> {
    const made = this.cgroupsMade.get(dir);
    if (made !== undefined) return made;
    const recorded = await readTextIfExists(path.join(dir, LOCAL_FILES.cgroup));
    return recorded === null ? null : checkedAttemptCgroup(dir, recorded);
  }

  /** Removes the attempt's cgroup once its processes are gone (a process the task left behind keeps it). */
  private async releaseCgroup(dir: string): Promise<void> {
    const cgroup = await this.cgroupOf(dir);
    if (cgroup !== null) removeCgroup(cgroup);
  }

  private async exitStatus(dir: string): Promise<PollResult | null> {
    const exitText = await readTextIfExists(path.join(dir, LOCAL_FILES.exitCode));
    if (exitText === null) return null;
    const code = Number.parseInt(exitText.trim(), 10);
    if (code === 0) return { status: 'COMPLETED' };
    return { status: 'FAILED', reason: Number.isNaN(code) ? `unreadable exit code "${exitText.trim()}"` : `exit code ${code}` };
  }

  private async kill(dir: string, started: Started, outcome: z.infer<typeof KilledSchema>): Promise<void> {
    // The marker goes first: whoever polls next knows why the processes died, and finishes the kill if we crash.
    await writeFileAtomic(path.join(dir, LOCAL_FILES.killed), `${JSON.stringify(outcome)}\n`);
    await this.killNow(dir, await this.processesOf(dir, started), this.killGraceMs);
  }

  private async killNow(dir: string, target: AttemptProcesses, graceMs: number): Promise<void> {
    this.killing.add(dir);
    try {
      await killAttemptProcesses(target, graceMs);
    } finally {
      this.killing.delete(dir);
    }
  }

  /** Kills every process of the attempt (SIGTERM, then SIGKILL after the grace): CANCELLED, unless it had already ended. */
  async cancel(ctx: OperatorContext): Promise<PollResult> {
    const dir = ctx.attempt.dir;
    // A cancel a crash interrupted is finished (SIGKILL) by this poll; a folder of another attempt is left alone.
    const current = await this.poll(ctx);
    if (isTerminalPoll(current)) return current;
    const started = await readJson(path.join(dir, LOCAL_FILES.started), StartedSchema);
    const outcome = { status: 'CANCELLED' as const, reason: 'cancelled' };
    if (started === null) {
      await writeFileAtomic(path.join(dir, LOCAL_FILES.killed), `${JSON.stringify(outcome)}\n`);
      // The launcher checks for this marker after writing the start marker: if it started the
      // command before this marker was there, its start marker is there now, and the kill is ours.
      const now = await readJson(path.join(dir, LOCAL_FILES.started), StartedSchema);
      if (now !== null) await this.killNow(dir, await this.processesOf(dir, now), this.killGraceMs);
    } else {
      await this.kill(dir, started, outcome);
    }
    this.forget(dir);
    return outcome;
  }

  /**
   * Reports the exit the moment the launcher says the command exited; a command this process did
   * not start (adopted after a restart) on file changes in its folder. Every interval as a fallback.
   */
  watch(ctx: OperatorContext, onChange: (result: PollResult) => void): Unsubscribe {
    const dir = ctx.attempt.dir;
    const interval = ctx.config.pollIntervalSeconds !== undefined ? ctx.config.pollIntervalSeconds * 1000 : this.pollIntervalMs;
    // Started by this process's launcher and still running: its exit will be told, no file watch needed.
    const told = this.launcher.isRunning(dir);
    return watchAttemptDir({ dir, log: operatorLog(ctx), toldOfChanges: told }, () => this.poll(ctx), onChange, interval, (trigger) => {
      const stopListening = this.launcher.onExit(dir, trigger);
      const limit = ctx.task.timeLimitMinutes;
      const timer = limit === undefined ? undefined : setTimeout(trigger, limit * 60_000 + 20);
      timer?.unref();
      return () => {
        stopListening();
        if (timer) clearTimeout(timer);
      };
    });
  }

  /** The process's output files in the attempt folder. */
  logFiles(ctx: Pick<OperatorContext, 'attempt'>, stream: LogStream): AttemptLogFiles {
    return { local: path.join(ctx.attempt.dir, LOCAL_FILES[stream]) };
  }

  /** Produced files (downloadPatterns; bookkeeping excluded, logs kept) and `results.json` as data. */
  async collectResults(ctx: OperatorContext): Promise<CollectedResults> {
    await this.folders.require(ctx);
    // The poll that saw the exit code may have run before the command's last process left the cgroup.
    await this.releaseCgroup(ctx.attempt.dir);
    this.forget(ctx.attempt.dir);
    return collectTaskResults(ctx, []);
  }

  /** The attempt is over: what this instance remembers of it goes (a run may have 100k attempts); the markers say the same. */
  private forget(dir: string): void {
    this.prepared.delete(dir);
    this.cgroupsMade.delete(dir);
  }

  private error(ctx: OperatorContext, message: string): MatterStackError {
    return new MatterStackError('OPERATOR_ERROR', `task ${ctx.task.id}, attempt ${ctx.attempt.attemptId}: ${message}`, {
      taskId: ctx.task.id,
      attemptId: ctx.attempt.attemptId,
    });
  }
}

/** When the attempt's command was claimed for launching (the claim's mtime), or null when nobody claimed it yet. */
async function claimTime(claim: string): Promise<number | null> {
  try {
    return (await stat(claim)).mtimeMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
