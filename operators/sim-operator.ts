import path from 'node:path';
import { readTextIfExists, writeFileAtomic } from './atomic-file.ts';
import type { CollectedResults, Operator, OperatorContext, PollResult, SubmitResult, Unsubscribe } from './operator.ts';
import { prepareAttemptDir } from './prepare-attempt-dir.ts';

const DRY_RUN_FILE = 'dry_run.txt';

/**
 * Operator `sim` (`sim.default`, or a compute backend with `dry_run: true`): an explicit dry
 * run. It stages files, records what it would have run, and completes without running anything.
 * Never used unless configured: the SPEC forbids silent simulation.
 */
export class SimOperator implements Operator {
  readonly kind: string = 'sim';

  /** Stages files and the manifest like a real operator, plus a note of what would run. */
  async prepare(ctx: OperatorContext): Promise<void> {
    const command = ctx.task.command === undefined ? '(no command)' : JSON.stringify(ctx.task.command);
    await prepareAttemptDir(ctx, { [DRY_RUN_FILE]: `DRY RUN (${ctx.operatorKey}): nothing was executed.\nwould run: ${command}\n` });
  }

  /** Accepts the work; it is complete at once. */
  async submit(ctx: OperatorContext): Promise<SubmitResult> {
    if ((await readTextIfExists(path.join(ctx.attempt.dir, DRY_RUN_FILE))) === null) await this.prepare(ctx);
    return { externalId: `dry-run:${ctx.attempt.attemptId}`, status: 'SUBMITTED', operatorData: { dryRun: true } };
  }

  /** Always COMPLETED (the reason says it was a dry run), unless cancelled. */
  async poll(ctx: OperatorContext): Promise<PollResult> {
    if ((await readTextIfExists(path.join(ctx.attempt.dir, 'cancelled.json'))) !== null) return { status: 'CANCELLED', reason: 'cancelled' };
    return { status: 'COMPLETED', reason: 'dry run: nothing was executed' };
  }

  /** No files, and data saying it was a dry run. */
  async collectResults(): Promise<CollectedResults> {
    return { files: {}, data: { dryRun: true } };
  }

  /** A dry run is over as soon as it starts; cancelling before that marks it cancelled. */
  async cancel(ctx: OperatorContext): Promise<PollResult> {
    // Best effort: a dry run has no process to stop; the marker only labels the attempt.
    await writeFileAtomic(path.join(ctx.attempt.dir, 'cancelled.json'), '{"status":"CANCELLED"}\n').catch(() => undefined);
    return { status: 'CANCELLED', reason: 'cancelled' };
  }

  /** Reports completion immediately. */
  watch(ctx: OperatorContext, onChange: (result: PollResult) => void): Unsubscribe {
    let active = true;
    void this.poll(ctx).then((result) => {
      if (active) onChange(result);
    });
    return () => {
      active = false;
    };
  }
}
