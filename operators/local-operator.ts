import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { MatterStackError } from '../events/errors.ts';
import type { JsonObject } from '../events/json.ts';
import { readTextIfExists, writeFileAtomic } from './atomic-file.ts';
import { checkedAttemptCgroup, createAttemptCgroup, removeCgroup } from './attempt-cgroup.ts';
import { bindAttemptFolder, MARKER_DIR } from './attempt-folder.ts';
import type { AttemptLogFiles, LogStream } from './attempt-log.ts';
import { collectTaskResults } from './collect-attempt-files.ts';
import type { CollectedResults, Operator, OperatorContext, PollResult, SubmitResult, Unsubscribe } from './operator.ts';
import { isTerminalPoll, operatorLog } from './operator.ts';
import { AdoptedFolders, prepareAttemptDir } from './prepare-attempt-dir.ts';
import { attemptPids, isProcessAlive, killAttemptProcesses, type AttemptProcesses } from './process-group.ts';
import { taskProcessEnv } from './task-env.ts';
import { DEFAULT_POLL_INTERVAL_MS, watchAttemptDir } from './watch-attempt-dir.ts';
import { SingleFlight } from './single-flight.ts';

/**
 * Files of a local attempt, relative to the attempt folder (the task's cwd). The bookkeeping ones
 * are markers in the marker folder, where the task does not write; the logs are the task's output.
 */
export const LOCAL_FILES = {
  wrapper: `${MARKER_DIR}/run_wrapper.sh`,
  launch: `${MARKER_DIR}/launch.json`,
  claim: `${MARKER_DIR}/claim`,
  /** Path of the attempt's cgroup, when it runs in one (see attempt-cgroup.ts). */
  cgroup: `${MARKER_DIR}/cgroup`,
  started: `${MARKER_DIR}/started.json`,
  exitCode: `${MARKER_DIR}/exit_code`,
  killed: `${MARKER_DIR}/killed.json`,
  stdout: 'stdout.log',
  stderr: 'stderr.log',
} as const;

/** The wrapper's exit code when another wrapper already claimed the attempt. */
const CLAIM_LOST_EXIT = 75;

/**
 * Runs the command given as arguments (cwd: the attempt folder), and records in the marker
 * folder the start marker (pid + /proc start time, against pid reuse) and, when it ends, its
 * exit code. It joins the attempt's cgroup, when there is one, before the command starts.
 * The command arrives as argv: no task data is ever part of this script's text.
 */
const WRAPPER_SCRIPT = `#!/bin/sh
# MatterStack attempt wrapper: records started.json and exit_code around the task's command.
set -f
# mkdir is atomic: of two wrappers launched for one attempt (a restart racing a slow start),
# exactly one runs the command; the other leaves without touching anything.
mkdir ${LOCAL_FILES.claim} 2>/dev/null || exit ${CLAIM_LOST_EXIT}
if [ -r ${LOCAL_FILES.cgroup} ]; then
  read -r cg < ${LOCAL_FILES.cgroup} && { printf '%s\\n' "$$" > "$cg/cgroup.procs"; } 2>/dev/null
fi
st=
if [ -r /proc/$$/stat ]; then
  read -r stat < /proc/$$/stat
  field22() { shift 21; printf '%s' "$1"; }
  st=$(field22 $stat)
fi
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
printf '{"pid":%s,"procStartTime":%s,"startedAt":"%s"}\\n' "$$" "\${st:-null}" "$now" > ${LOCAL_FILES.started}.tmp && mv -f ${LOCAL_FILES.started}.tmp ${LOCAL_FILES.started}
"$@"
code=$?
printf '%s\\n' "$code" > ${LOCAL_FILES.exitCode}.tmp && mv -f ${LOCAL_FILES.exitCode}.tmp ${LOCAL_FILES.exitCode}
exit "$code"
`;

const StartedSchema = z.object({ pid: z.number().int().positive(), procStartTime: z.number().int().nullable(), startedAt: z.string() });
const LaunchSchema = z.object({ launchedAt: z.number() });
const KilledSchema = z.object({ status: z.enum(['CANCELLED', 'FAILED']), reason: z.string() });
type Started = z.infer<typeof StartedSchema>;

/** Tunables (tests shorten them). */
export interface LocalOperatorOptions {
  /** Polling fallback of `watch` (default 1 s). */
  pollIntervalMs?: number;
  /** SIGTERM → SIGKILL grace when killing a process group (default 5 s). */
  killGraceMs?: number;
  /** How long `submit` waits for the wrapper's start marker (default 10 s). */
  startTimeoutMs?: number;
  /** Put each attempt in its own cgroup where cgroup v2 is writable (default true); else process groups only. */
  cgroups?: boolean;
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
  private readonly children = new Map<string, ChildProcess>();
  private readonly submitting = new SingleFlight<SubmitResult>();
  private readonly pollIntervalMs: number;
  private readonly killGraceMs: number;
  private readonly startTimeoutMs: number;
  private readonly cgroups: boolean;
  private readonly folders = new AdoptedFolders();
  /** Attempt folders whose processes this instance is killing right now (SIGTERM grace running). */
  private readonly killing = new Set<string>();

  constructor(options: LocalOperatorOptions = {}) {
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.killGraceMs = options.killGraceMs ?? 5000;
    this.startTimeoutMs = options.startTimeoutMs ?? 10_000;
    this.cgroups = options.cgroups ?? true;
  }

  /** Creates the attempt directory, stages files, writes the manifest. */
  async prepare(ctx: OperatorContext): Promise<void> {
    if (ctx.task.command === undefined) throw this.error(ctx, 'has no command to run');
    await prepareAttemptDir(ctx);
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

    // The exit code first: the wrapper writes it after the start marker, so a command that ends
    // between the two reads is still seen as started.
    const exited = (await readTextIfExists(file(LOCAL_FILES.exitCode))) !== null;
    let started = await readJson(file(LOCAL_FILES.started), StartedSchema);
    if (started === null && !exited) {
      // Launching again is safe even if an earlier launch is still starting: the wrapper's claim
      // lets only one of them run the command, and the loser's launch adopts the winner.
      started = await this.launch(ctx);
    }
    const pid = started?.pid ?? 0;
    const operatorData: JsonObject = started === null ? {} : { pid, procStartTime: started.procStartTime, startedAt: started.startedAt };
    return { externalId: String(pid), status: 'RUNNING', operatorData };
  }

  private async launch(ctx: OperatorContext): Promise<Started> {
    const dir = ctx.attempt.dir;
    const command = ctx.task.command;
    if (command === undefined) throw this.error(ctx, 'has no command to run');
    const argv = typeof command === 'string' ? ['/bin/sh', '-c', command] : command;
    // Atomic: another orchestrator's wrapper may be reading this file right now (sh reads as it goes).
    await writeFileAtomic(path.join(dir, LOCAL_FILES.wrapper), WRAPPER_SCRIPT, 0o755);
    await writeFileAtomic(path.join(dir, LOCAL_FILES.launch), `${JSON.stringify({ launchedAt: Date.now() })}\n`);
    const cgroup = this.cgroups ? createAttemptCgroup(dir) : null;
    if (cgroup !== null) await writeFileAtomic(path.join(dir, LOCAL_FILES.cgroup), `${cgroup}\n`);

    const out = openSync(path.join(dir, LOCAL_FILES.stdout), 'a');
    const err = openSync(path.join(dir, LOCAL_FILES.stderr), 'a');
    let child: ChildProcess;
    try {
      child = spawn('/bin/sh', [LOCAL_FILES.wrapper, ...argv], {
        cwd: dir,
        // Own session and process group: it outlives us, and a group kill reaches its children.
        detached: true,
        stdio: ['ignore', out, err],
        // Never the orchestrator's environment (secrets): the allow-list, the task's env, ours.
        env: taskProcessEnv(ctx.task.env, { runId: ctx.runId, taskId: ctx.task.id, attemptId: ctx.attempt.attemptId, attemptDir: dir }),
      });
    } finally {
      closeSync(out);
      closeSync(err);
    }
    let spawnError: Error | undefined;
    child.on('error', (error) => {
      spawnError = error;
    });
    child.unref();
    this.children.set(dir, child);
    child.once('exit', () => setTimeout(() => this.children.delete(dir), 1000).unref());

    const started = await this.waitForStart(ctx, this.startTimeoutMs, () => spawnError !== undefined || child.exitCode !== null);
    if (started !== null) return started;
    if (child.exitCode === CLAIM_LOST_EXIT) {
      if ((await readTextIfExists(path.join(dir, LOCAL_FILES.killed))) !== null) throw this.error(ctx, 'was cancelled before it started');
      const winner = await this.waitForStart(ctx, this.startTimeoutMs);
      if (winner !== null) return winner;
      throw this.error(ctx, 'an earlier launch claimed the attempt but never started (was the machine restarted?)');
    }
    if (spawnError) throw this.error(ctx, `could not start: ${spawnError.message}`);
    // The wrapper ended before writing its marker, or is stuck: poll() reports what happened.
    if (child.pid !== undefined && child.exitCode === null) {
      return { pid: child.pid, procStartTime: null, startedAt: new Date().toISOString() };
    }
    throw this.error(ctx, 'the process wrapper did not start');
  }

  private async waitForStart(ctx: OperatorContext, timeoutMs: number, giveUp?: () => boolean): Promise<Started | null> {
    const deadline = Date.now() + timeoutMs;
    const read = (): Promise<Started | null> => readJson(path.join(ctx.attempt.dir, LOCAL_FILES.started), StartedSchema);
    for (;;) {
      const started = await read();
      if (started !== null) return started;
      // A quick command may have ended (marker written, then exit) while the read above ran.
      if (giveUp?.()) return read();
      if (Date.now() >= deadline) return null;
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
    const launch = await readJson(file(LOCAL_FILES.launch), LaunchSchema);
    if (started === null) {
      if (launch === null) return { status: 'CREATED' };
      if (Date.now() - launch.launchedAt > this.startTimeoutMs * 3) {
        return { status: 'FAILED', reason: 'lost: the process never recorded its start' };
      }
      return { status: 'SUBMITTED' };
    }
    if (isProcessAlive(started.pid, started.procStartTime)) {
      const limitMinutes = ctx.task.timeLimitMinutes;
      const since = launch?.launchedAt ?? Date.parse(started.startedAt);
      if (limitMinutes !== undefined && Date.now() - since > limitMinutes * 60_000) {
        const reason = `time limit of ${limitMinutes} minute(s) exceeded: process group killed`;
        await this.kill(dir, started, { status: 'FAILED', reason });
        return { status: 'FAILED', reason };
      }
      return { status: 'RUNNING' };
    }
    // Dead: read the exit code again, it may have been written just before the process ended.
    const after = await this.exitStatus(dir);
    if (after !== null) return after;
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
    const outcome = { status: 'CANCELLED' as const, reason: 'cancelled' };
    const started = (await readJson(path.join(dir, LOCAL_FILES.started), StartedSchema)) ?? (await this.stopBeforeStart(ctx, outcome));
    if (started !== null) await this.kill(dir, started, outcome);
    return outcome;
  }

  /**
   * A cancel before the start marker: the kill marker, then the wrapper's claim, so that no wrapper
   * launched from now on runs the command (a submit sees the marker, a wrapper finds the claim
   * taken). A wrapper that claimed first is about to record its start: that start is returned, to
   * be killed; null when nothing runs.
   */
  private async stopBeforeStart(ctx: OperatorContext, outcome: z.infer<typeof KilledSchema>): Promise<Started | null> {
    const dir = ctx.attempt.dir;
    await mkdir(path.join(dir, MARKER_DIR), { recursive: true });
    // Bound first, as a prepare would: a later submit must take the folder (and the marker) as this attempt's.
    if ((await this.folders.status(ctx)) === 'unused') await bindAttemptFolder(ctx);
    await writeFileAtomic(path.join(dir, LOCAL_FILES.killed), `${JSON.stringify(outcome)}\n`);
    try {
      await mkdir(path.join(dir, LOCAL_FILES.claim));
      return null;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    return this.waitForStart(ctx, this.startTimeoutMs);
  }

  /** Reports the exit the moment the child exits (when started here), else on file changes / every interval. */
  watch(ctx: OperatorContext, onChange: (result: PollResult) => void): Unsubscribe {
    const interval = ctx.config.pollIntervalSeconds !== undefined ? ctx.config.pollIntervalSeconds * 1000 : this.pollIntervalMs;
    return watchAttemptDir({ dir: ctx.attempt.dir, log: operatorLog(ctx) }, () => this.poll(ctx), onChange, interval, (trigger) => {
      const child = this.children.get(ctx.attempt.dir);
      child?.on('exit', trigger);
      const limit = ctx.task.timeLimitMinutes;
      const timer = limit === undefined ? undefined : setTimeout(trigger, limit * 60_000 + 20);
      timer?.unref();
      return () => {
        child?.off('exit', trigger);
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
    // The poll that saw the exit code may have run before the wrapper itself left the cgroup.
    await this.releaseCgroup(ctx.attempt.dir);
    return collectTaskResults(ctx, []);
  }

  private error(ctx: OperatorContext, message: string): MatterStackError {
    return new MatterStackError('OPERATOR_ERROR', `task ${ctx.task.id}, attempt ${ctx.attempt.attemptId}: ${message}`, {
      taskId: ctx.task.id,
      attemptId: ctx.attempt.attemptId,
    });
  }
}
