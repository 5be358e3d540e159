import { afterEach, describe, expect, it } from 'vitest';
import type { OperatorContext, PollResult, SubmitResult, Unsubscribe } from '../operators/operator.ts';
import { initializeRun, type RunHandle } from '../host/run-lifecycle.ts';
import { runUntilCompletion, stepRun } from '../host/drive-run.ts';
import { createLogger, type LogLevel } from '../events/logger.ts';
import { InstantOperator } from '../harness/instant-operator.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

/** A logger writing JSON lines into memory, and those lines parsed. */
function collectingLogger(level: LogLevel = 'debug'): { logger: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const text: string[] = [];
  const logger = createLogger({ level, format: 'json', sink: { write: (line) => text.push(line) } });
  return { logger, lines: () => text.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/**
 * Accepts every attempt, then throws the first time it is asked to watch one (a broken push
 * channel: an error of the effect handler, not an event); the owed watch effect then works.
 */
class BrokenWatchOperator extends InstantOperator {
  private readonly broken = new Set<string>();
  override watch(ctx: OperatorContext, onChange: (result: PollResult) => void): Unsubscribe {
    const { attemptId } = ctx.attempt;
    if (this.broken.has(attemptId)) return super.watch(ctx, onChange);
    this.broken.add(attemptId);
    throw new Error(`watch broke for ${attemptId}`);
  }
}

/** Refuses every attempt at submit (an effect failure the run records as SUBMIT_FAILED). */
class RefusingOperator extends InstantOperator {
  override async submit(ctx: OperatorContext): Promise<SubmitResult> {
    throw new Error(`no room for ${ctx.attempt.attemptId}`);
  }
}

let temp: TempRoot | undefined;
let run: RunHandle | undefined;
afterEach(async () => {
  await run?.close();
  run = undefined;
  temp?.cleanup();
});

async function runOf(tasks: unknown[], runId: string): Promise<RunHandle> {
  temp = tempRoot('ms-logging-');
  temp.workspace('ws', oneWorkflowCampaign(tasks));
  run = await initializeRun({ root: temp.root, workspace: 'ws', runId });
  return run;
}

describe('logger', () => {
  it('writes one JSON object a line with the child bindings, and never a NATS password', () => {
    const { logger, lines } = collectingLogger('info');
    const child = logger.child({ runId: 'r1' }).child({ attemptId: 'a-a1' });
    child.info({ url: 'nats://orchestrator:s3cret@127.0.0.1:4222' }, 'connecting to nats://u:pw@host:4222');
    child.debug('below the level');
    expect(lines()).toEqual([
      expect.objectContaining({ level: 30, runId: 'r1', attemptId: 'a-a1', url: 'nats://orchestrator:***@127.0.0.1:4222', msg: 'connecting to nats://u:***@host:4222' }),
    ]);
  });
});

describe('effects and their failures are logged with the ids they concern', () => {
  it('a failing effect is logged with its run, operator and attempt ids (and the run records it)', async () => {
    const handle = await runOf([{ id: 'job', command: 'true', allowFailure: true }], 'refused');
    const { logger, lines } = collectingLogger('info');
    const operator = new RefusingOperator();
    await stepRun(handle, { logger, registry: { factories: { local: () => operator } } });
    const line = lines().find((l) => l.msg === 'attempt not submitted');
    expect(line).toMatchObject({ runId: 'refused', operator: 'local.default', attemptId: 'job-a1', reason: 'no room for job-a1' });
    const recorded: string[] = [];
    for await (const record of handle.store.log.readRun('refused')) if (record.actor === 'job-a1') recorded.push(record.type);
    expect(recorded).toContain('ATTEMPT.SUBMIT_FAILED');
  });

  it('several effect errors are raised together as an AggregateError, each logged with its attempt id', async () => {
    const handle = await runOf([{ id: 'one', command: 'true' }, { id: 'two', command: 'true' }], 'broken');
    const { logger, lines } = collectingLogger('info');
    const operator = new BrokenWatchOperator();
    const error = await runUntilCompletion(handle, { logger, registry: { factories: { local: () => operator } } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AggregateError);
    const messages = (error as AggregateError).errors.map((e: unknown) => (e as Error).message).sort();
    expect(messages).toEqual(['watch broke for one-a1', 'watch broke for two-a1']);
    expect((error as AggregateError).message).toMatch(/^2 effects failed: /);
    const logged = lines().filter((l) => l.msg === 'effect failed');
    expect(logged.map((l) => [l.runId, l.attemptId, l.effect, (l.err as { message: string }).message]).sort()).toEqual([
      ['broken', 'one-a1', 'attempt.start', 'watch broke for one-a1'],
      ['broken', 'two-a1', 'attempt.start', 'watch broke for two-a1'],
    ]);
  });

  it('one effect error is raised as it is', async () => {
    const handle = await runOf([{ id: 'one', command: 'true' }], 'single');
    const { logger } = collectingLogger('silent');
    const operator = new BrokenWatchOperator();
    await expect(runUntilCompletion(handle, { logger, registry: { factories: { local: () => operator } } })).rejects.toThrow(/^watch broke for one-a1$/);
  });
});
