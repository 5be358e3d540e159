import path from 'node:path';
import { readTextIfExists, writeFileAtomic } from './atomic-file.ts';
import { collectAttemptFiles } from './collect-attempt-files.ts';
import { readExternalResponse } from './external-response.ts';
import type { CollectedResults, Operator, OperatorContext, PollResult, SubmitResult, Unsubscribe } from './operator.ts';
import { operatorLog } from './operator.ts';
import { AdoptedFolders, isPrepared, prepareAttemptDir } from './prepare-attempt-dir.ts';
import { DEFAULT_POLL_INTERVAL_MS, watchAttemptDir } from './watch-attempt-dir.ts';

export const EXPERIMENT_FILES = {
  request: 'experiment_request.json',
  result: 'experiment_result.json',
  cancelled: 'cancelled.json',
} as const;
const BOOKKEEPING = [...Object.values(EXPERIMENT_FILES)];

function requestOf(ctx: OperatorContext): string {
  const rawConfig = ctx.task.env?.EXPERIMENT_CONFIG;
  let envConfig: unknown = null;
  if (rawConfig !== undefined) {
    try {
      envConfig = JSON.parse(rawConfig);
    } catch {
      envConfig = null;
    }
  }
  const request = {
    task_id: ctx.task.id,
    run_id: ctx.runId,
    attempt_id: ctx.attempt.attemptId,
    request: ctx.task.request ?? null,
    parameters: ctx.task.env ?? {},
    files: Object.keys(ctx.task.files ?? {}),
    // The original's robots read `config` (from EXPERIMENT_CONFIG); the operator entry travels too.
    config: envConfig,
    config_raw: rawConfig !== undefined && envConfig === null ? rawConfig : null,
    operator: { key: ctx.operatorKey, ...ctx.config },
    result_file: EXPERIMENT_FILES.result,
  };
  return `${JSON.stringify(request, null, 2)}\n`;
}

/** Operator `experiment`: hands a request to an outside agent and waits for its result file (SPEC §2). */
export class ExperimentOperator implements Operator {
  readonly kind: string = 'experiment';
  private readonly folders = new AdoptedFolders();

  constructor(private readonly options: { pollIntervalMs?: number } = {}) {}

  /** Writes `experiment_request.json`, staged files and the manifest. */
  async prepare(ctx: OperatorContext): Promise<void> {
    await prepareAttemptDir(ctx, { [EXPERIMENT_FILES.request]: requestOf(ctx) });
  }

  /** Nothing to start: the request is on disk; wait for the result. */
  async submit(ctx: OperatorContext): Promise<SubmitResult> {
    await this.folders.require(ctx);
    if (!(await isPrepared(ctx.attempt.dir))) await this.prepare(ctx);
    return {
      externalId: ctx.attempt.attemptId,
      status: 'WAITING_EXTERNAL',
      operatorData: { dir: ctx.attempt.dir, request: path.join(ctx.attempt.dir, EXPERIMENT_FILES.request) },
    };
  }

  /** COMPLETED / FAILED from `experiment_result.json`; an invalid result → FAILED with the reason. */
  async poll(ctx: OperatorContext): Promise<PollResult> {
    const dir = ctx.attempt.dir;
    const folder = await this.folders.status(ctx);
    if (folder !== 'bound' && folder !== 'unused') return folder;
    if ((await readTextIfExists(path.join(dir, EXPERIMENT_FILES.cancelled))) !== null) return { status: 'CANCELLED', reason: 'cancelled' };
    const read = await readExternalResponse(dir, EXPERIMENT_FILES.result, ctx.config.maxResultsBytes);
    if (read.kind === 'invalid') return { status: 'FAILED', reason: read.reason };
    if (read.kind === 'valid' && read.response.status === 'COMPLETED') return { status: 'COMPLETED' };
    if (read.kind === 'valid' && read.response.status === 'FAILED') {
      return { status: 'FAILED', reason: read.response.error ?? 'failed (experiment_result.json gave no error)' };
    }
    return { status: 'WAITING_EXTERNAL' };
  }

  /** The result's `data` and the files the agent dropped in the directory. */
  async collectResults(ctx: OperatorContext): Promise<CollectedResults> {
    const dir = ctx.attempt.dir;
    await this.folders.require(ctx);
    const files = await collectAttemptFiles(dir, { ...ctx.task.downloadPatterns, bookkeeping: BOOKKEEPING });
    const read = await readExternalResponse(dir, EXPERIMENT_FILES.result, ctx.config.maxResultsBytes);
    if (read.kind === 'invalid') return { files, reason: read.reason };
    if (read.kind === 'valid' && read.response.data !== undefined) return { files, data: read.response.data };
    return { files };
  }

  /** Marks the attempt cancelled (a result arriving later is ignored). */
  async cancel(ctx: OperatorContext): Promise<PollResult> {
    const current = await this.poll(ctx);
    if (current.status !== 'WAITING_EXTERNAL' && current.status !== 'CREATED') return current;
    await writeFileAtomic(path.join(ctx.attempt.dir, EXPERIMENT_FILES.cancelled), '{"status":"CANCELLED"}\n');
    return { status: 'CANCELLED', reason: 'cancelled' };
  }

  /** Reports the result as soon as its file appears (fs.watch, polling fallback). */
  watch(ctx: OperatorContext, onChange: (result: PollResult) => void): Unsubscribe {
    const interval = ctx.config.pollIntervalSeconds !== undefined ? ctx.config.pollIntervalSeconds * 1000 : (this.options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
    return watchAttemptDir({ dir: ctx.attempt.dir, log: operatorLog(ctx) }, () => this.poll(ctx), onChange, interval);
  }
}
