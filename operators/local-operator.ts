import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { MatterStackError } from '../events/errors.ts';
import type { JsonObject } from '../events/json.ts';
import { readTextIfExistsSync, writeFileAtomic } from './atomic-file.ts';
import { attemptCgroupForLaunch, checkedAttemptCgroup, removeCgroup } from './attempt-cgroup.ts';
import { bindAttemptFolder, MARKER_DIR } from './attempt-folder.ts';
import type { AttemptLogFiles, LogStream } from './attempt-log.ts';
import { collectTaskResults } from './collect-attempt-files.ts';
import { LOCAL_FILES, takeClaim } from './local-files.ts';
import type { CollectedResults, Operator, OperatorContext, PollResult, SubmitResult, Unsubscribe } from './operator.ts';
import { isTerminalPoll, operatorLog } from './operator.ts';
import { AdoptedFolders, prepareAttemptDir } from './prepare-attempt-dir.ts';
import { ProcessLauncher } from './process-launcher.ts';
import { attemptPids, isProcessAlive, killAttemptProcesses, pidExists, type AttemptProcesses } from './process-group.ts';
import { declaredTaskEnv } from './task-env.ts';
import { DEFAULT_POLL_INTERVAL_MS, watchAttemptDir } from './watch-attempt-dir.ts';
import { SingleFlight } from './single-flight.ts';
import { untilPresent } from './until-present.ts';

export { LOCAL_FILES } from './local-files.ts';

/** The start marker; `startedAt` only in those written by versions before the launcher. */
const StartedSchema = z.object({ pid: z.number().int().positive(), procStartTime: z.number().int().nullable(), startedAt: z.string().optional() });
const LaunchSchema = z.object({ launchedAt: z.number() });
const KilledSchema = z.object({ status: z.enum(['CANCELLED', 'FAILED']), reason: z.string() });
type Started = z.infer<typeof StartedSchema>;

/**
 * How long a process found dead is given for its exit code to appear: the launcher records it just
 * after reaping the process (a zombie counts as dead already), so only a lost attempt waits it out.
 */
const EXIT_RECORD_GRACE_MS = 1000;

/** When an attempt's cgroup that was still busy at collect is tried again (ms after the previous try): the attempt's process leaves it as it exits. */
const CGROUP_RELEASE_RETRIES_MS = [20, 200, 2000];

/** An attempt this instance launched: its pid, when (epoch ms), and the cgroup made for it. */
interface Launch {
  pid: number;
  at: number;
  cgroup: string | null;
}

/** Tunables (tests shorten them). */
export interface LocalOperatorOptions {
  /** Polling fallback of `watch` (default 1 s). */
  pollIntervalMs?: number;
  /** SIGTERM → SIGKILL grace when killing a process group (default 5 s). */
  killGraceMs?: number;
  /** How long a start another launch claimed is waited for (default 10 s; three times that, a claim without a start is lost). */
  startTimeoutMs?: number;
  /** Put each attempt in its own cgroup where cgroup v2 is writable (default true); else process groups only. */
  cgroups?: boolean;
}

/** A marker's content, or null when it is missing, empty or cut short (markers are written in place: not written yet). */
function readMarker<T>(dir: string, name: string, schema: z.ZodType<T>): T | null {
  const text = readTextIfExistsSync(path.join(dir, name));
  if (text === null) return null;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
    // Not JSON yet: markers are written in place, so a marker cut short is one still being written.
  } catch {
    return null;
  }
}

const readStarted = (dir: string): Started | null => readMarker(dir, LOCAL_FILES.started, StartedSchema);

/** When the attempt was launched (ms): its claim's time, or the launch marker of versions before the launcher; null before any launch. */
function launchedAt(dir: string): number | null {
  try {
    return statSync(path.join(dir, LOCAL_FILES.claim)).mtimeMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return readMarker(dir, LOCAL_FILES.launch, LaunchSchema)?.launchedAt ?? null;
}

/** Operator `local`: the task's command as a real child process in its own session (SPEC §2). */
export class LocalOperator implements Operator {
  readonly kind: string = 'local';
  private readonly launcher = new ProcessLauncher();
  /** Wrappers this instance launched, by attempt folder (their exits are reported by the launcher). */
  private readonly launches = new Map<string, Launch>();
  private readonly submitting = new SingleFlight<SubmitResult>();
  private readonly pollIntervalMs: number;
  private readonly killGraceMs: number;
  private readonly startTimeoutMs: number;
  private readonly cgroups: boolean;
  private readonly folders = new AdoptedFolders();
  /** Attempt folders whose processes this instance is killing right now (SIGTERM grace running). */
  private readonly killing = new Set<string>();
  /** Attempt folders this instance prepared, until their results are collected: submit's prepare has nothing to check then. */
  private readonly prepared = new Set<string>();
  /** Attempt folders launched here whose cgroup the poll that saw their end removed already. */
  private readonly cgroupGone = new Set<string>();
  /** Attempt folders this instance bound itself and has not launched in: no marker of another launch or a cancel can be there. */
  private readonly unlaunched = new Set<string>();

  constructor(options: LocalOperatorOptions = {}) {
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.killGraceMs = options.killGraceMs ?? 5000;
    this.startTimeoutMs = options.startTimeoutMs ?? 10_000;
    this.cgroups = options.cgroups ?? true;
  }

  /** Creates the attempt directory, stages files, writes the manifest. */
  async prepare(ctx: OperatorContext): Promise<void> {
    if (ctx.task.command === undefined) throw this.error(ctx, 'has no command to run');
    // Not fsynced: a power loss ends the process too, and a restart then finds the attempt lost or
    // its folder unbound (refused); a process crash loses nothing (see prepareAttemptDir).
    const dir = ctx.attempt.dir;
    if (this.prepared.has(dir)) return;
    if (await prepareAttemptDir(ctx, {}, false)) {
      this.unlaunched.add(dir);
      this.folders.add(dir);
    }
    this.prepared.add(dir);
  }

  /** Starts the command once; a second call (or a new instance after a restart) re-adopts it. */
  submit(ctx: OperatorContext): Promise<SubmitResult> {
    return this.submitting.run(ctx.attempt.dir, () => this.submitOnce(ctx));
  }

  private async submitOnce(ctx: OperatorContext): Promise<SubmitResult> {
    const dir = ctx.attempt.dir;
    // Idempotent, and refuses a folder bound to another attempt before any marker in it is read.
    await this.prepare(ctx);
    const started = this.unlaunched.delete(dir) ? await this.launch(ctx) : await this.adoptOrLaunch(ctx);
    const pid = started?.pid ?? 0;
    const since = started?.startedAt ?? new Date(launchedAt(dir) ?? Date.now()).toISOString();
    const operatorData: JsonObject = started === null ? {} : { pid, procStartTime: started.procStartTime, startedAt: since };
    return { externalId: String(pid), status: 'RUNNING', operatorData };
  }

  /** The start of an earlier launch in the folder (a restart, a re-issued submit), else a launch now; null when the command has ended. */
  private async adoptOrLaunch(ctx: OperatorContext): Promise<Started | null> {
    const dir = ctx.attempt.dir;
    if (readTextIfExistsSync(path.join(dir, LOCAL_FILES.killed)) !== null) throw this.error(ctx, 'was cancelled before it started');
    // The exit code first: it is written after the start marker, so a command that ends
    // between the two reads is still seen as started.
    const exited = readTextIfExistsSync(path.join(dir, LOCAL_FILES.exitCode)) !== null;
    const started = readStarted(dir);
    if (started !== null || exited) return started;
    if (existsSync(path.join(dir, LOCAL_FILES.claim))) return this.adoptWinner(ctx);
    return this.launch(ctx);
  }

  /**
   * Launches the attempt, unless another launch holds the claim (an earlier instance, a restart
   * racing a slow start, a cancel): that launch's start is adopted (waited for) instead.
   */
  private async launch(ctx: OperatorContext): Promise<Started> {
    const dir = ctx.attempt.dir;
    const command = ctx.task.command;
    if (command === undefined) throw this.error(ctx, 'has no command to run');
    // The attempt's process records it (not fsynced: it matters while the attempt's processes live, and a power loss ends them and the cgroup).
    const cgroup = this.cgroups ? attemptCgroupForLaunch(dir) : null;
    const outcome = await this.launcher.launch({
      dir,
      // Never the orchestrator's environment (secrets): the launcher adds the allow-list to the task's env and ours.
      env: declaredTaskEnv(ctx.task.env, { runId: ctx.runId, taskId: ctx.task.id, attemptId: ctx.attempt.attemptId, attemptDir: dir }),
      argv: [cgroup ?? '', ...(typeof command === 'string' ? ['shell', command] : ['argv', ...command])],
    });
    if ('claimed' in outcome) return this.adoptWinner(ctx);
    const at = Date.now();
    this.launches.set(dir, { pid: outcome.pid, at, cgroup });
    // No /proc read for its start time here: the attempt's process records it in its start marker, which guards against pid reuse.
    return { pid: outcome.pid, procStartTime: null, startedAt: new Date(at).toISOString() };
  }

  /** The start of the launch that holds the claim; refused when it was a cancel's. */
  private async adoptWinner(ctx: OperatorContext): Promise<Started> {
    if (readTextIfExistsSync(path.join(ctx.attempt.dir, LOCAL_FILES.killed)) !== null) throw this.error(ctx, 'was cancelled before it started');
    const winner = await this.waitForStart(ctx);
    if (winner !== null) return winner;
    throw this.error(ctx, 'an earlier launch claimed the attempt but never started (was the machine restarted?)');
  }

  /** The attempt's recorded start, waited for up to the start timeout; null when none comes. */
  private waitForStart(ctx: OperatorContext): Promise<Started | null> {
    return untilPresent(() => readStarted(ctx.attempt.dir), this.startTimeoutMs);
  }

  /** COMPLETED on exit 0, FAILED with the exit code, the time limit or "lost", CANCELLED after cancel; FAILED for a folder of another attempt. */
  async poll(ctx: OperatorContext): Promise<PollResult> {
    const dir = ctx.attempt.dir;
    const launch = this.launches.get(dir);
    if (launch !== undefined && this.runsAsLaunched(ctx, launch)) return { status: 'RUNNING' };
    const folder = await this.folders.status(ctx);
    if (folder === 'unused') return { status: 'CREATED' };
    if (folder !== 'bound') return folder;
    const killed = await this.killedStatus(dir);
    if (killed !== null) {
      if (isTerminalPoll(killed)) this.forgetLaunch(dir, launch);
      return killed;
    }
    const finished = this.exitStatus(dir);
    if (finished !== null) {
      if (this.releaseCgroup(dir) && launch !== undefined) this.cgroupGone.add(dir);
      this.forgetLaunch(dir, launch);
      return finished;
    }

    const started = readStarted(dir);
    if (started === null) {
      const since = launchedAt(dir);
      if (since === null) return { status: 'CREATED' };
      // Launched here a moment ago: submit already said RUNNING with the launcher's pid, before the
      // attempt recorded its start; SUBMITTED now would step the attempt back.
      if (launch !== undefined && isProcessAlive(launch.pid)) return { status: 'RUNNING' };
      if (Date.now() - since > this.startTimeoutMs * 3) {
        return { status: 'FAILED', reason: 'lost: the process never recorded its start' };
      }
      return { status: 'SUBMITTED' };
    }
    if (isProcessAlive(started.pid, started.procStartTime)) {
      if (this.pastTimeLimit(ctx, launchedAt(dir) ?? Date.parse(started.startedAt ?? ''))) {
        const reason = `time limit of ${ctx.task.timeLimitMinutes} minute(s) exceeded: process group killed`;
        await this.kill(dir, started, { status: 'FAILED', reason });
        return { status: 'FAILED', reason };
      }
      return { status: 'RUNNING' };
    }
    // Dead: its reaper (the launcher, or the wrapper) records the exit code a moment after the end.
    const after = await untilPresent(() => this.exitStatus(dir), EXIT_RECORD_GRACE_MS);
    if (after !== null) return after;
    return { status: 'FAILED', reason: `lost: process ${started.pid} is gone without an exit code` };
  }

  /**
   * True for an attempt launched here a moment ago whose end the launcher has not heard and which
   * is alive: the markers need not be read (a kill goes through this instance, and its pid cannot
   * have been reused so soon). Later, or when in doubt, the markers are read as after a restart.
   */
  private runsAsLaunched(ctx: OperatorContext, launch: Launch): boolean {
    if (Date.now() - launch.at > this.startTimeoutMs || this.killing.has(ctx.attempt.dir) || this.pastTimeLimit(ctx, launch.at)) return false;
    // The launcher (or node, for a wrapper) reports its end once the exit code is recorded: no /proc read needed.
    return this.launcher.isRunning(launch.pid) && pidExists(launch.pid);
  }

  /** Removes the attempt's cgroup now, or a little later when the attempt's process has not left it yet (a process the task left behind keeps it). */
  private releaseCgroupSoon(dir: string): void {
    const cgroup = this.cgroupOf(dir);
    if (cgroup === null || removeCgroup(cgroup)) return;
    const retry = (delaysMs: number[]): void => {
      const [delay, ...later] = delaysMs;
      if (delay === undefined) return;
      setTimeout(() => removeCgroup(cgroup) || retry(later), delay).unref();
    };
    retry(CGROUP_RELEASE_RETRIES_MS);
  }

  /** Drops what this instance keeps of a launch that has ended. */
  private forgetLaunch(dir: string, launch: Launch | undefined): void {
    if (launch === undefined) return;
    this.launches.delete(dir);
    this.launcher.forget(launch.pid);
  }

  /** True when the task has a time limit and ran past it since `since` (epoch ms). */
  private pastTimeLimit(ctx: OperatorContext, since: number): boolean {
    const limitMinutes = ctx.task.timeLimitMinutes;
    return limitMinutes !== undefined && Date.now() - since > limitMinutes * 60_000;
  }

  /** The processes of a started attempt: its group and session, and its cgroup (only one made for this folder). */
  private processesOf(dir: string, started: Started): AttemptProcesses {
    return { pgid: started.pid, cgroup: this.cgroupOf(dir) };
  }

  /**
   * The outcome a kill marker records, once every process of the attempt is gone. A kill this
   * instance started is still in its grace: RUNNING meanwhile. A kill nobody is finishing (the
   * host that began it crashed, or a task ignored SIGTERM) is finished here with SIGKILL.
   */
  private async killedStatus(dir: string): Promise<PollResult | null> {
    const killed = readMarker(dir, LOCAL_FILES.killed, KilledSchema);
    if (killed === null) return null;
    const started = readStarted(dir);
    if (started === null) return killed;
    const target = this.processesOf(dir, started);
    if (attemptPids(target).length === 0 && !isProcessAlive(started.pid, started.procStartTime)) {
      if (target.cgroup !== null) removeCgroup(target.cgroup);
      return killed;
    }
    if (this.killing.has(dir)) return { status: 'RUNNING' };
    await this.killNow(dir, target, 0);
    return killed;
  }

  /** The attempt's cgroup, if it has one (only one made for this folder: the marker is not trusted blindly). */
  private cgroupOf(dir: string): string | null {
    const launch = this.launches.get(dir);
    if (launch !== undefined) return launch.cgroup;
    const recorded = readTextIfExistsSync(path.join(dir, LOCAL_FILES.cgroup));
    return recorded === null ? null : checkedAttemptCgroup(dir, recorded);
  }

  /** Removes the attempt's cgroup once its processes are gone (a process the task left behind keeps it); true when it has none left. */
  private releaseCgroup(dir: string): boolean {
    const cgroup = this.cgroupOf(dir);
    return cgroup === null || removeCgroup(cgroup);
  }

  /** The recorded exit (as the launcher heard it for an attempt launched here), or null while there is none (missing, or empty: being written). */
  private exitStatus(dir: string): PollResult | null {
    const launch = this.launches.get(dir);
    const heard = launch === undefined ? undefined : this.launcher.exitCodeOf(launch.pid);
    const exitText = heard !== undefined ? String(heard) : readTextIfExistsSync(path.join(dir, LOCAL_FILES.exitCode))?.trim();
    if (exitText === undefined || exitText === '') return null;
    const code = Number.parseInt(exitText, 10);
    if (code === 0) return { status: 'COMPLETED' };
    return { status: 'FAILED', reason: Number.isNaN(code) ? `unreadable exit code "${exitText}"` : `exit code ${code}` };
  }

  private async kill(dir: string, started: Started, outcome: z.infer<typeof KilledSchema>): Promise<void> {
    // The marker goes first: whoever polls next knows why the processes died, and finishes the kill if we crash.
    await writeFileAtomic(path.join(dir, LOCAL_FILES.killed), `${JSON.stringify(outcome)}\n`);
    await this.killNow(dir, this.processesOf(dir, started), this.killGraceMs);
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
    try {
      // A cancel a crash interrupted is finished (SIGKILL) by this poll; a folder of another attempt is left alone.
      const current = await this.poll(ctx);
      if (isTerminalPoll(current)) return current;
      const outcome = { status: 'CANCELLED' as const, reason: 'cancelled' };
      const started = readStarted(dir) ?? (await this.stopBeforeStart(ctx, outcome));
      if (started !== null) await this.kill(dir, started, outcome);
      return outcome;
    } finally {
      this.forgetFolder(dir);
    }
  }

  /**
   * A cancel before the start marker: the kill marker, then the claim, so that no attempt is
   * launched from now on (a submit sees the marker, a launcher finds the claim taken). A launch
   * that claimed first is about to record its start: that start is returned, to be killed; null
   * when nothing runs.
   */
  private async stopBeforeStart(ctx: OperatorContext, outcome: z.infer<typeof KilledSchema>): Promise<Started | null> {
    const dir = ctx.attempt.dir;
    this.unlaunched.delete(dir);
    mkdirSync(path.join(dir, MARKER_DIR), { recursive: true });
    // Bound first, as a prepare would: a later submit must take the folder (and the marker) as this attempt's.
    if ((await this.folders.status(ctx)) === 'unused') await bindAttemptFolder(ctx);
    await writeFileAtomic(path.join(dir, LOCAL_FILES.killed), `${JSON.stringify(outcome)}\n`);
    if (takeClaim(dir)) return null;
    return this.waitForStart(ctx);
  }

  /** Reports the exit the moment the attempt ends (when launched here), else on marker changes (fs.watch); and every interval. */
  watch(ctx: OperatorContext, onChange: (result: PollResult) => void): Unsubscribe {
    const interval = ctx.config.pollIntervalSeconds !== undefined ? ctx.config.pollIntervalSeconds * 1000 : this.pollIntervalMs;
    const markers = path.join(ctx.attempt.dir, MARKER_DIR);
    // Launched here: the launcher reports the exit, the marker folder need not be watched as well.
    const pid = this.launches.get(ctx.attempt.dir)?.pid;
    return watchAttemptDir({ dir: markers, log: operatorLog(ctx), watchFiles: pid === undefined }, () => this.poll(ctx), onChange, interval, (trigger) => {
      const stopExit = pid === undefined ? undefined : this.launcher.onExit(pid, trigger);
      const limit = ctx.task.timeLimitMinutes;
      const timer = limit === undefined ? undefined : setTimeout(trigger, limit * 60_000 + 20);
      timer?.unref();
      return () => {
        stopExit?.();
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
    const dir = ctx.attempt.dir;
    await this.folders.require(ctx);
    // The poll that saw the exit code may have run before the attempt's process left the cgroup.
    if (!this.cgroupGone.has(dir)) this.releaseCgroupSoon(dir);
    this.forgetFolder(dir);
    return collectTaskResults(ctx, []);
  }

  /** How many attempt folders this instance keeps something of: 0 once each attempt it saw is collected or cancelled. */
  keptFolders(): number {
    return new Set([...this.prepared, ...this.unlaunched, ...this.cgroupGone, ...this.launches.keys(), ...this.folders.kept()]).size;
  }

  /** Drops what this instance keeps of the attempt folder `dir` (collected or cancelled): nothing of an ended attempt stays in memory. */
  private forgetFolder(dir: string): void {
    this.prepared.delete(dir);
    this.unlaunched.delete(dir);
    this.cgroupGone.delete(dir);
    this.folders.forget(dir);
    this.forgetLaunch(dir, this.launches.get(dir));
  }

  private error(ctx: OperatorContext, message: string): MatterStackError {
    return new MatterStackError('OPERATOR_ERROR', `task ${ctx.task.id}, attempt ${ctx.attempt.attemptId}: ${message}`, {
      taskId: ctx.task.id,
      attemptId: ctx.attempt.attemptId,
    });
  }
}
