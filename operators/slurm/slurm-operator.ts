import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { MatterStackError } from '../../events/errors.ts';
import type { JsonObject } from '../../events/json.ts';
import type { BackendConfig, OperatorEntry } from '../../workspace/operators-config.ts';
import { readJsonFile, readTextIfExists, writeFileAtomic } from '../atomic-file.ts';
import type { AttemptLogFiles, LogStream } from '../attempt-log.ts';
import { collectTaskResults } from '../collect-attempt-files.ts';
import type { CollectedResults, Operator, OperatorContext, PollResult, SubmitResult, Unsubscribe } from '../operator.ts';
import { isTerminalPoll, operatorLog } from '../operator.ts';
import { identityMismatch, IDENTITY_PATH } from '../attempt-folder.ts';
import { AdoptedFolders, prepareAttemptDir } from '../prepare-attempt-dir.ts';
import { renderBatchScript, sbatchArgv, SLURM_FILES, type BatchScriptInput, type SlurmSiteOptions } from './batch-script.ts';
import { isTransient, type CommandRunner } from './command-runner.ts';
import { remoteLogSource } from './remote-log-source.ts';
import { runnerForBackend } from './runner-for-backend.ts';
import { UnreachableRecorder } from './unreachable-record.ts';
import { SlurmPoller, type ClusterHealth } from './slurm-poller.ts';
import { isInvalidJobId, parseSacct, parseSbatchParsable, parseScontrolJob, parseSqueue, pollResultOf, sacctArgv, SQUEUE_FORMAT, type SlurmJobInfo } from './slurm-states.ts';
import { SingleFlight } from '../single-flight.ts';
import { pollIntervalMsOf } from '../poll-interval.ts';

type SlurmBackend = Extract<BackendConfig, { type: 'slurm' }>;

export { describeUnreachable } from './unreachable-record.ts';
export { runnerForBackend } from './runner-for-backend.ts';

/** Tunables of the Slurm operator; most come from operators.yaml, tests shorten the rest. */
export interface SlurmOperatorOptions {
  /** Cluster access; default: from the backend's `ssh` (or local commands). */
  runner?: CommandRunner;
  /** One squeue per interval (default: backend `poll_interval_seconds`, else entry's, else 30 s). */
  pollIntervalMs?: number;
  /** A job gone from Slurm without an exit-code file is "lost" after this long (default: max(3 intervals, 2 min)). */
  lostGraceMs?: number;
  /** First retry delay after a transient failure (default 1 s), doubled up to `maxBackoffMs` (default 5 min). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Give up (FAILED_INIT / FAILED) after the cluster was unreachable this long; default: never. */
  unreachableDeadlineMs?: number | null;
  /** How long `cancel` waits for Slurm to confirm (default 60 s). */
  cancelConfirmMs?: number;
  /** Test seam: runs right after sbatch answered, before the job id is recorded anywhere. */
  afterSbatch?: (jobId: string, ctx: OperatorContext) => void | Promise<void>;
}

interface JobMarker {
  /** null: the job ran (its files exist) but Slurm had already forgotten its id when we adopted it. */
  jobId: string | null;
  submittedAt: string;
  adopted?: boolean;
}

/**
 * Operator `hpc` with a Slurm backend (SPEC §2): a batch script per attempt, `sbatch --parsable`,
 * one `squeue` per poll interval for all active jobs, `scontrol` as a fallback and the
 * exit-code file when Slurm has forgotten a job; `scancel` to cancel. Idempotent by attempt id:
 * the job name is the attempt id, so a restart adopts a job it submitted but never recorded.
 */
export class SlurmOperator implements Operator {
  readonly kind: string;
  readonly runner: CommandRunner;
  readonly poller: SlurmPoller;
  private readonly key: string;
  private readonly backend: SlurmBackend;
  private readonly options: SlurmOperatorOptions;
  private readonly lostGraceMs: number;
  private readonly submitting = new SingleFlight<SubmitResult>();
  private readonly missingSince = new Map<string, number>();
  private readonly lastSeen = new Map<string, PollResult>();
  private readonly unreachable = new UnreachableRecorder();
  private readonly folders = new AdoptedFolders();
  private accountingAvailable = true;

  constructor(key: string, entry: OperatorEntry, options: SlurmOperatorOptions = {}) {
    if (entry.backend?.type !== 'slurm') throw new MatterStackError('INVALID_CONFIG', `operator ${key}: not a Slurm backend`, { key });
    this.key = key;
    this.kind = entry.kind;
    this.backend = entry.backend;
    this.options = options;
    this.runner = options.runner ?? runnerForBackend(entry.backend);
    const intervalMs = options.pollIntervalMs ?? pollIntervalMsOf(entry);
    const graceSeconds = entry.backend.lost_grace_seconds;
    this.lostGraceMs = options.lostGraceMs ?? (graceSeconds !== undefined ? graceSeconds * 1000 : Math.max(3 * intervalMs, 120_000));
    this.poller = new SlurmPoller({ runner: this.runner, intervalMs, ...(options.maxBackoffMs !== undefined ? { maxBackoffMs: options.maxBackoffMs } : {}) });
  }

  /** Reachability of the cluster, for explain: "cluster unreachable since <time>, retry <n>". */
  clusterHealth(): ClusterHealth {
    return this.poller.clusterHealth();
  }

  /** Explains the cluster's state in one line, or null when it is reachable. */
  describeHealth(): string | null {
    const h = this.poller.clusterHealth();
    if (h.unreachableSince === null) return null;
    return `cluster unreachable since ${h.unreachableSince}, retry ${h.retries}${h.lastError ? ` (${h.lastError})` : ''}`;
  }

  private site(): SlurmSiteOptions {
    const b = this.backend;
    return {
      ...(b.partition !== undefined ? { partition: b.partition } : {}),
      ...(b.account !== undefined ? { account: b.account } : {}),
      ...(b.qos !== undefined ? { qos: b.qos } : {}),
      slurm: b.slurm,
      sbatchOptions: b.sbatch_options,
      modules: b.modules,
    };
  }

  /** Where the job runs on the cluster: the attempt directory itself, or its copy under `workspace_root` over ssh. */
  jobDir(ctx: Pick<OperatorContext, 'runId' | 'attempt'>): string {
    if (!this.runner.remote) return ctx.attempt.dir;
    return path.posix.join(this.backend.workspace_root, ctx.runId, ctx.attempt.taskId, ctx.attempt.attemptId);
  }

  private scriptInput(ctx: OperatorContext): BatchScriptInput {
    return { runId: ctx.runId, attemptId: ctx.attempt.attemptId, task: ctx.task, jobDir: this.jobDir(ctx), site: this.site() };
  }

  private file(ctx: OperatorContext, name: string): string {
    return path.join(ctx.attempt.dir, name);
  }

  /** Attempt directory, staged files, manifest, and the batch script (`submit.sh`). */
  async prepare(ctx: OperatorContext): Promise<void> {
    if (ctx.task.command === undefined) throw this.error(ctx, 'has no command to run');
    await prepareAttemptDir(ctx);
    await writeFileAtomic(this.file(ctx, SLURM_FILES.script), renderBatchScript(this.scriptInput(ctx)), 0o755);
  }

  /** Submits once; re-adopts the job after a restart (by its marker, or by name when the marker never got written). */
  submit(ctx: OperatorContext): Promise<SubmitResult> {
    return this.submitting.run(ctx.attempt.dir, () => this.submitOnce(ctx));
  }

  private async submitOnce(ctx: OperatorContext): Promise<SubmitResult> {
    await this.folders.require(ctx);
    const marker = await readJsonFile<JobMarker>(this.file(ctx, SLURM_FILES.job));
    if (marker !== null) return this.submitted(marker);
    if ((await readTextIfExists(this.file(ctx, SLURM_FILES.script))) === null) await this.prepare(ctx);
    if ((await readTextIfExists(this.file(ctx, SLURM_FILES.cancelled))) !== null) throw this.error(ctx, 'was cancelled before it was submitted');

    // A previous submit may have reached sbatch and died before recording the id: look for the job by name.
    const hadTried = (await readTextIfExists(this.file(ctx, SLURM_FILES.submitting))) !== null;
    if (hadTried) {
      const adopted = await this.withRetry(ctx, () => this.adoptExisting(ctx));
      if (adopted !== null) return this.submitted(adopted);
    } else {
      await writeFileAtomic(this.file(ctx, SLURM_FILES.submitting), `${JSON.stringify({ at: new Date().toISOString() })}\n`);
    }
    await this.withRetry(ctx, async () => {
      await this.checkRemoteFolder(ctx);
      await this.runner.push(ctx.attempt.dir, this.jobDir(ctx));
    });
    let first = true;
    const jobId = await this.withRetry(ctx, async () => {
      // An sbatch that timed out may still have submitted: check by name before trying again.
      if (!first) {
        const existing = await this.adoptExisting(ctx);
        if (existing?.jobId) return existing.jobId;
      }
      first = false;
      // Cancelled while we were waiting for the cluster: never submit.
      if ((await readTextIfExists(this.file(ctx, SLURM_FILES.cancelled))) !== null) throw this.error(ctx, 'was cancelled before it was submitted');
      const result = await this.runner.run(sbatchArgv(this.scriptInput(ctx)), { timeoutMs: 120_000 });
      if (result.code !== 0) throw this.error(ctx, `sbatch failed (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
      const id = parseSbatchParsable(result.stdout);
      if (id === null) throw this.error(ctx, `could not parse sbatch's answer: ${JSON.stringify(result.stdout.trim())}`);
      return id;
    });
    await this.options.afterSbatch?.(jobId, ctx);
    const recorded: JobMarker = { jobId, submittedAt: new Date().toISOString() };
    await writeFileAtomic(this.file(ctx, SLURM_FILES.job), `${JSON.stringify(recorded)}\n`);
    this.poller.invalidate();
    // Cancelled while sbatch ran: the job must not be left behind.
    // A failed scancel is not the submit's failure: the job id is recorded, so the owed cancel effect finds the job again.
    if ((await readTextIfExists(this.file(ctx, SLURM_FILES.cancelled))) !== null) {
      await this.scancel(ctx, jobId).catch((err: unknown) => operatorLog(ctx).warn({ err, jobId }, 'scancel after a cancelled submit failed; the owed cancel tries again'));
    }
    return this.submitted(recorded);
  }

  /** Over ssh, a job directory already on the cluster must be this attempt's, of this workspace (never taken over from another run). */
  private async checkRemoteFolder(ctx: OperatorContext): Promise<void> {
    if (!this.runner.remote) return;
    const jobDir = this.jobDir(ctx);
    const where = `${this.runner.target}:${jobDir}`;
    const found = await this.runner.run(['cat', `${jobDir}/${IDENTITY_PATH}`]);
    if (found.code === 0) {
      let raw: unknown = null;
      try {
        raw = JSON.parse(found.stdout);
      } catch {
        // Not JSON: identityMismatch says it is not a valid identity.
      }
      const mismatch = identityMismatch(ctx, where, raw, true);
      if (mismatch !== null) throw this.error(ctx, mismatch);
      return;
    }
    const exists = await this.runner.run(['test', '-e', jobDir]);
    if (exists.code === 0) throw this.error(ctx, `job directory ${where} exists without ${IDENTITY_PATH}: refusing to take its files for this attempt's`);
  }

  private submitted(marker: JobMarker): SubmitResult {
    const operatorData: JsonObject = { jobId: marker.jobId, submittedAt: marker.submittedAt, target: this.runner.target };
    if (marker.adopted) operatorData.adopted = true;
    return { externalId: marker.jobId ?? 'unknown', status: 'SUBMITTED', operatorData };
  }

  /** The job named after the attempt, if Slurm (or the files it left) shows one was submitted. */
  private async adoptExisting(ctx: OperatorContext): Promise<JobMarker | null> {
    const name = ctx.attempt.attemptId;
    const result = await this.runner.run(['squeue', '--noheader', '--me', '--states=all', `--name=${name}`, `--format=${SQUEUE_FORMAT}`]);
    if (result.code !== 0) throw this.error(ctx, `squeue failed (exit ${result.code}): ${result.stderr.trim()}`);
    const found = [...parseSqueue(result.stdout).values()].filter((job) => job.name === name);
    let marker: JobMarker | null = null;
    if (found.length > 0) {
      const jobId = found.map((job) => job.jobId).sort((a, b) => Number(a) - Number(b))[0]!;
      marker = { jobId, submittedAt: new Date().toISOString(), adopted: true };
    } else if (await this.jobLeftFiles(ctx)) {
      // Finished and already forgotten by Slurm: its exit-code file will tell the outcome.
      marker = { jobId: null, submittedAt: new Date().toISOString(), adopted: true };
    }
    if (marker !== null) await writeFileAtomic(this.file(ctx, SLURM_FILES.job), `${JSON.stringify(marker)}\n`);
    return marker;
  }

  private async jobLeftFiles(ctx: OperatorContext): Promise<boolean> {
    if (!this.runner.remote) {
      for (const name of [SLURM_FILES.stdout, SLURM_FILES.exitCode]) if ((await readTextIfExists(this.file(ctx, name))) !== null) return true;
      return false;
    }
    const dir = this.jobDir(ctx);
    const result = await this.runner.run(['test', '-e', `${dir}/${SLURM_FILES.stdout}`, '-o', '-e', `${dir}/${SLURM_FILES.exitCode}`]);
    return result.code === 0;
  }

  /** Retries transient cluster failures with exponential backoff (the attempt stays active meanwhile). */
  private async withRetry<T>(ctx: OperatorContext, action: () => Promise<T>): Promise<T> {
    let delay = this.options.initialBackoffMs ?? 1000;
    const max = this.options.maxBackoffMs ?? 300_000;
    const deadline = this.options.unreachableDeadlineMs ?? this.backendDeadlineMs();
    const started = Date.now();
    for (;;) {
      try {
        const value = await action();
        this.poller.noteSuccess();
        await this.unreachable.clear(ctx.attempt.attemptId, ctx.attempt.dir);
        return value;
      } catch (error) {
        if (!isTransient(error)) throw error;
        this.poller.noteFailure(error);
        await this.unreachable.record(ctx.attempt.attemptId, ctx.attempt.dir, this.poller.clusterHealth(), error);
        if (deadline !== null && Date.now() - started + delay > deadline) {
          throw this.error(ctx, `cluster unreachable for ${Math.round((Date.now() - started) / 1000)} s, giving up: ${(error as Error).message}`);
        }
        await sleep(delay);
        delay = Math.min(delay * 2, max);
      }
    }
  }

  private backendDeadlineMs(): number | null {
    const seconds = this.backend.unreachable_deadline_seconds;
    return seconds === undefined ? null : seconds * 1000;
  }

  /** Status from the shared squeue snapshot; scontrol, then the exit-code file, for jobs it does not list. */
  async poll(ctx: OperatorContext): Promise<PollResult> {
    const attemptId = ctx.attempt.attemptId;
    const folder = await this.folders.status(ctx);
    if (folder === 'unused') return { status: 'CREATED' };
    if (folder !== 'bound') return folder;
    const marker = await readJsonFile<JobMarker>(this.file(ctx, SLURM_FILES.job));
    if (marker === null) return { status: 'CREATED' };
    try {
      const result = await this.pollJob(ctx, marker);
      this.lastSeen.set(attemptId, result);
      await this.unreachable.clear(ctx.attempt.attemptId, ctx.attempt.dir);
      return result;
    } catch (error) {
      if (!isTransient(error)) throw error;
      await this.unreachable.record(ctx.attempt.attemptId, ctx.attempt.dir, this.poller.clusterHealth(), error);
      // Unreachable: nothing changed as far as we know. Never fails the task by itself.
      const deadline = this.backendDeadlineMs();
      const since = this.poller.clusterHealth().unreachableSince;
      if (deadline !== null && since !== null && Date.now() - Date.parse(since) > deadline) {
        return { status: 'FAILED', reason: `cluster unreachable since ${since}: ${(error as Error).message}` };
      }
      // CREATED = "no news": the host reports nothing (never a step backwards from RUNNING).
      return this.lastSeen.get(attemptId) ?? { status: 'CREATED' };
    }
  }

  private async pollJob(ctx: OperatorContext, marker: JobMarker): Promise<PollResult> {
    const cancelled = (await readTextIfExists(this.file(ctx, SLURM_FILES.cancelled))) !== null;
    let job: SlurmJobInfo | null = null;
    if (marker.jobId !== null) {
      const jobs = await this.poller.jobs();
      job = jobs.get(marker.jobId) ?? (await this.scontrol(marker.jobId)) ?? (await this.sacct(marker.jobId));
    }
    if (job !== null) {
      this.missingSince.delete(ctx.attempt.attemptId);
      const result = pollResultOf(job);
      if (result.status === 'FAILED' && job.exitCode === undefined) {
        const code = await this.readExitCode(ctx);
        return pollResultOf(job, code);
      }
      if (result.status === 'CANCELLED' && cancelled) return { status: 'CANCELLED', reason: `cancelled (Slurm job ${job.jobId})` };
      return result;
    }
    // Slurm no longer knows the job (purged after MinJobAge, or never ran): the exit-code file decides.
    const code = await this.readExitCode(ctx);
    const jobLabel = marker.jobId === null ? 'the job' : `Slurm job ${marker.jobId}`;
    if (cancelled) return { status: 'CANCELLED', reason: `cancelled (${jobLabel})` };
    if (code !== null) {
      this.missingSince.delete(ctx.attempt.attemptId);
      if (code === 0) return { status: 'COMPLETED' };
      return { status: 'FAILED', reason: `exit code ${code} (${jobLabel}, read from its exit-code file)` };
    }
    const now = Date.now();
    const since = this.missingSince.get(ctx.attempt.attemptId) ?? now;
    this.missingSince.set(ctx.attempt.attemptId, since);
    if (now - since >= this.lostGraceMs) {
      return { status: 'FAILED', reason: `lost: ${jobLabel} is no longer known to Slurm and left no exit code` };
    }
    return this.lastSeen.get(ctx.attempt.attemptId) ?? { status: 'CREATED' };
  }

  /** `scontrol show job` for a job squeue did not list; null when Slurm does not know it. */
  private async scontrol(jobId: string): Promise<SlurmJobInfo | null> {
    const result = await this.runner.run(['scontrol', '-o', 'show', 'job', jobId]);
    if (result.code !== 0) {
      if (isInvalidJobId(result.stderr)) return null;
      throw new MatterStackError('OPERATOR_ERROR', `scontrol show job ${jobId} failed (exit ${result.code}): ${result.stderr.trim()}`, { jobId });
    }
    return parseScontrolJob(result.stdout);
  }

  /** `sacct` for a job squeue and scontrol forgot; a cluster without accounting is not asked again. */
  private async sacct(jobId: string): Promise<SlurmJobInfo | null> {
    if (!this.accountingAvailable) return null;
    // sacct that cannot be run is treated like a cluster without accounting: the job's end is read from its files.
    const result = await this.runner.run(sacctArgv(jobId)).catch(() => null);
    if (result === null || result.code !== 0) {
      this.accountingAvailable = false;
      return null;
    }
    return parseSacct(result.stdout, jobId);
  }

  /** The command's exit code from the file the batch script writes; null when absent. */
  private async readExitCode(ctx: OperatorContext): Promise<number | null> {
    let text: string | null;
    if (this.runner.remote) {
      const result = await this.runner.run(['cat', `${this.jobDir(ctx)}/${SLURM_FILES.exitCode}`]);
      text = result.code === 0 ? result.stdout : null;
    } else {
      text = await readTextIfExists(this.file(ctx, SLURM_FILES.exitCode));
    }
    if (text === null) return null;
    const code = Number.parseInt(text.trim(), 10);
    return Number.isNaN(code) ? null : code;
  }

  private async scancel(ctx: OperatorContext, jobId: string): Promise<void> {
    await this.withRetry(ctx, async () => {
      const result = await this.runner.run(['scancel', jobId]);
      if (result.code !== 0 && !isInvalidJobId(result.stderr)) throw this.error(ctx, `scancel ${jobId} failed (exit ${result.code}): ${result.stderr.trim()}`);
    });
    this.poller.invalidate();
  }

  /** `scancel`, then waits until Slurm confirms: CANCELLED, or the terminal status the job reached first. */
  async cancel(ctx: OperatorContext): Promise<PollResult> {
    const before = await this.poll(ctx);
    if (isTerminalPoll(before)) return before;
    await writeFileAtomic(this.file(ctx, SLURM_FILES.cancelled), `${JSON.stringify({ at: new Date().toISOString() })}\n`);
    const marker = await readJsonFile<JobMarker>(this.file(ctx, SLURM_FILES.job));
    if (marker === null || marker.jobId === null) return { status: 'CANCELLED', reason: 'cancelled before the job was submitted' };
    await this.scancel(ctx, marker.jobId);
    const deadline = Date.now() + (this.options.cancelConfirmMs ?? 60_000);
    for (;;) {
      this.poller.invalidate();
      const now = await this.poll(ctx);
      if (isTerminalPoll(now)) return now;
      if (Date.now() > deadline) return { status: 'CANCELLED', reason: `scancel ${marker.jobId} sent; Slurm had not confirmed yet` };
      await sleep(Math.min(500, this.poller.intervalMs));
    }
  }

  /** One shared squeue per interval answers for every watched attempt (see SlurmPoller). */
  watch(ctx: OperatorContext, onChange: (result: PollResult) => void): Unsubscribe {
    let last: string | undefined;
    let stopped = false;
    const tick = async (): Promise<void> => {
      let result: PollResult;
      try {
        result = await this.poll(ctx);
      } catch (err) {
        // The next round polls again (an unreachable cluster is onFailure's, not a tick's).
        operatorLog(ctx).warn({ err }, 'poll failed; polling again on the next round');
        return;
      }
      const fingerprint = `${result.status}|${result.reason ?? ''}`;
      if (stopped || fingerprint === last) return;
      last = fingerprint;
      onChange(result);
    };
    const unsubscribe = this.poller.subscribe(ctx.attempt.attemptId, tick, async (error) => {
      if (isTransient(error)) await this.unreachable.record(ctx.attempt.attemptId, ctx.attempt.dir, this.poller.clusterHealth(), error);
    });
    return () => {
      stopped = true;
      unsubscribe();
    };
  }

  /** The job's output files (`--output`/`--error`): in the attempt folder, and over SSH in the job directory on the cluster. */
  logFiles(ctx: Pick<OperatorContext, 'runId' | 'attempt'>, stream: LogStream): AttemptLogFiles {
    const local = path.join(ctx.attempt.dir, SLURM_FILES[stream]);
    if (!this.runner.remote) return { local };
    return { local, remote: remoteLogSource(this.runner, `${this.jobDir(ctx)}/${SLURM_FILES[stream]}`) };
  }

  /** Fetches the job directory back (ssh), then the produced files and `results.json` as data. */
  async collectResults(ctx: OperatorContext): Promise<CollectedResults> {
    await this.folders.require(ctx);
    if (this.runner.remote) await this.withRetry(ctx, () => this.runner.pull(this.jobDir(ctx), ctx.attempt.dir, [SLURM_FILES.job, SLURM_FILES.cancelled, SLURM_FILES.submitting]));
    return collectTaskResults(ctx, []);
  }

  private error(ctx: OperatorContext, message: string): MatterStackError {
    return new MatterStackError('OPERATOR_ERROR', `operator ${this.key}, task ${ctx.task.id}, attempt ${ctx.attempt.attemptId}: ${message}`, {
      taskId: ctx.task.id,
      attemptId: ctx.attempt.attemptId,
    });
  }
}
