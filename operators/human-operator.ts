import path from 'node:path';
import { readTextIfExists } from './atomic-file.ts';
import { collectAttemptFiles } from './collect-attempt-files.ts';
import { readAnswerText, readExternalResponse } from './external-response.ts';
import type { CollectedResults, Operator, OperatorContext, PollResult, SubmitResult, Unsubscribe } from './operator.ts';
import { operatorLog } from './operator.ts';
import { AdoptedFolders, isPrepared, prepareAttemptDir } from './prepare-attempt-dir.ts';
import { writeFileAtomic } from './atomic-file.ts';
import { DEFAULT_POLL_INTERVAL_MS, watchAttemptDir } from './watch-attempt-dir.ts';

export const HUMAN_FILES = {
  instructions: 'instructions.md',
  response: 'response.json',
  approved: 'approved.txt',
  rejected: 'rejected.txt',
  cancelled: 'cancelled.json',
} as const;
const BOOKKEEPING = [...Object.values(HUMAN_FILES)];

function instructionsOf(ctx: OperatorContext): string {
  const body = ctx.task.message ?? ctx.task.env?.INSTRUCTIONS ?? 'Please complete the task as described.';
  return [
    `# Human task: ${ctx.task.id}`,
    '',
    body,
    '',
    '## Completion',
    '',
    `Approve with \`matterstack approve <run> ${ctx.task.id}\` or reject with \`matterstack reject <run> ${ctx.task.id}\`,`,
    'or create one of these files in this directory:',
    '',
    '- `response.json`: `{"status": "COMPLETED", "data": {...}}` or `{"status": "FAILED", "error": "why"}`',
    '- `approved.txt` / `rejected.txt` (content: your comment)',
    '',
    ...dataSection(ctx),
  ].join('\n');
}

/** With an inputSchema: the data an approve must carry (`--data`), as the schema says. */
function dataSection(ctx: OperatorContext): string[] {
  if (ctx.task.inputSchema === undefined) return [];
  return ['## Data', '', 'An approve must carry data (`--data JSON` or `--data-file F`) matching this JSON Schema:', '', '```json', JSON.stringify(ctx.task.inputSchema, null, 2), '```', ''];
}

/** Operator `human`: gate tasks wait in WAITING_EXTERNAL for a person's answer (SPEC §2). */
export class HumanOperator implements Operator {
  readonly kind: string = 'human';
  private readonly folders = new AdoptedFolders();

  constructor(private readonly options: { pollIntervalMs?: number } = {}) {}

  /** Writes `instructions.md` (the gate message), staged files and the manifest. */
  async prepare(ctx: OperatorContext): Promise<void> {
    await prepareAttemptDir(ctx, { [HUMAN_FILES.instructions]: instructionsOf(ctx) });
  }

  /** Nothing to start: the attempt waits for an answer. */
  async submit(ctx: OperatorContext): Promise<SubmitResult> {
    await this.folders.require(ctx);
    if (!(await isPrepared(ctx.attempt.dir))) await this.prepare(ctx);
    return { externalId: ctx.attempt.attemptId, status: 'WAITING_EXTERNAL', operatorData: { dir: ctx.attempt.dir } };
  }

  /** COMPLETED / FAILED from response.json, approved.txt or rejected.txt; invalid response → FAILED. */
  async poll(ctx: OperatorContext): Promise<PollResult> {
    const dir = ctx.attempt.dir;
    const folder = await this.folders.status(ctx);
    if (folder !== 'bound' && folder !== 'unused') return folder;
    if ((await readTextIfExists(path.join(dir, HUMAN_FILES.cancelled))) !== null) return { status: 'CANCELLED', reason: 'cancelled' };
    const read = await readExternalResponse(dir, HUMAN_FILES.response, ctx.config.maxResultsBytes);
    if (read.kind === 'invalid') return { status: 'FAILED', reason: read.reason };
    if (read.kind === 'valid') {
      if (read.response.status === 'COMPLETED') return { status: 'COMPLETED' };
      if (read.response.status === 'FAILED') return { status: 'FAILED', reason: read.response.error ?? 'failed (response.json gave no error)' };
    }
    const rejected = await readAnswerText(dir, HUMAN_FILES.rejected, ctx.config.maxResultsBytes);
    if (rejected.kind === 'invalid') return { status: 'FAILED', reason: rejected.reason };
    if (rejected.kind === 'text') return { status: 'FAILED', reason: rejected.text.trim() === '' ? 'rejected' : `rejected: ${rejected.text.trim()}` };
    const approved = await readAnswerText(dir, HUMAN_FILES.approved, ctx.config.maxResultsBytes);
    if (approved.kind === 'invalid') return { status: 'FAILED', reason: approved.reason };
    return approved.kind === 'text' ? { status: 'COMPLETED' } : { status: 'WAITING_EXTERNAL' };
  }

  /** Response data (or the approval comment) and the files people dropped in the directory. */
  async collectResults(ctx: OperatorContext): Promise<CollectedResults> {
    const dir = ctx.attempt.dir;
    await this.folders.require(ctx);
    const files = await collectAttemptFiles(dir, { ...ctx.task.downloadPatterns, bookkeeping: BOOKKEEPING });
    const read = await readExternalResponse(dir, HUMAN_FILES.response, ctx.config.maxResultsBytes);
    if (read.kind === 'valid') return read.response.data === undefined ? { files } : { files, data: read.response.data };
    if (read.kind === 'invalid') return { files, reason: read.reason };
    for (const name of [HUMAN_FILES.approved, HUMAN_FILES.rejected]) {
      const answer = await readAnswerText(dir, name, ctx.config.maxResultsBytes);
      if (answer.kind === 'invalid') return { files, reason: answer.reason };
      if (answer.kind === 'text') return answer.text.trim() === '' ? { files } : { files, data: { comment: answer.text.trim() } };
    }
    return { files };
  }

  /** Marks the attempt cancelled (an answer arriving later is ignored). */
  async cancel(ctx: OperatorContext): Promise<PollResult> {
    const current = await this.poll(ctx);
    if (current.status !== 'WAITING_EXTERNAL' && current.status !== 'CREATED') return current;
    await writeFileAtomic(path.join(ctx.attempt.dir, HUMAN_FILES.cancelled), '{"status":"CANCELLED"}\n');
    return { status: 'CANCELLED', reason: 'cancelled' };
  }

  /** Reports the answer as soon as its file appears (fs.watch, polling fallback). */
  watch(ctx: OperatorContext, onChange: (result: PollResult) => void): Unsubscribe {
    const interval = ctx.config.pollIntervalSeconds !== undefined ? ctx.config.pollIntervalSeconds * 1000 : (this.options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
    return watchAttemptDir({ dir: ctx.attempt.dir, log: operatorLog(ctx) }, () => this.poll(ctx), onChange, interval);
  }
}
