import { sleepUnlessAborted } from '../events/sleep.ts';
import { attemptPhase } from '../machines/attempt-phase.ts';
import { RunHost, type EffectHandler } from './run-host.ts';
import { hostFor, type DriveOptions, type RunHandle } from './run-lifecycle.ts';

/** An attempt a cancel asked to stop, as the log has it once the command waited. */
export interface CancelledAttempt {
  attemptId: string;
  taskId: string;
  operatorKey: string;
  /** What the operator knows it by (the process id of a local attempt, the Slurm job id). */
  externalId?: string;
  status: string;
}

/** What a cancel stopped before it returned, and what was still stopping when it gave up waiting. */
export interface CancellationOutcome {
  stopped: CancelledAttempt[];
  stillStopping: CancelledAttempt[];
}

/** How often `awaitCancellations` reads what the host appended. */
const WATCH_POLL_MS = 200;

/** The attempts a command (record `commandSeq`) and anything after it asked to cancel. */
async function cancelTargets(handle: RunHandle, commandSeq: number): Promise<Set<string>> {
  const targets = new Set<string>();
  for await (const record of handle.store.log.readRun(handle.runId, commandSeq - 1)) {
    if (record.type === 'ATTEMPT.CANCEL') targets.add(record.actor);
  }
  return targets;
}

/** Where the targets are in the log as `host` has it. */
function outcomeOf(host: RunHost, targets: Set<string>): CancellationOutcome {
  const outcome: CancellationOutcome = { stopped: [], stillStopping: [] };
  for (const attemptId of targets) {
    const snapshot = host.state.attempts.get(attemptId);
    if (snapshot === undefined) continue;
    const { taskId, operatorKey, externalId, status } = snapshot.context;
    const attempt: CancelledAttempt = { attemptId, taskId, operatorKey, ...(externalId !== undefined ? { externalId } : {}), status };
    (attemptPhase(snapshot) === 'cancelling' ? outcome.stillStopping : outcome.stopped).push(attempt);
  }
  return outcome;
}

/**
 * Waits (at most `timeoutMs`, reading the log) until the host of the run (a worker, with --nats)
 * has stopped the attempts the cancel recorded at `commandSeq` asked to cancel; runs no effect.
 */
export async function awaitCancellations(handle: RunHandle, commandSeq: number, timeoutMs: number): Promise<CancellationOutcome> {
  const targets = await cancelTargets(handle, commandSeq);
  const host = await RunHost.restore(handle.store.log, handle.runId);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const outcome = outcomeOf(host, targets);
    if (outcome.stillStopping.length === 0 || Date.now() >= deadline) return outcome;
    await new Promise((resolve) => setTimeout(resolve, Math.min(WATCH_POLL_MS, Math.max(0, deadline - Date.now()))));
    await host.refresh();
  }
}

/**
 * Stops, from this process, the attempts the cancel recorded at `commandSeq` asked to cancel, so
 * that `cancel` stops the processes or jobs before it returns even when no loop hosts the run.
 * Only the owed cancel effects of those attempts run here (no submission, no campaign call). Safe
 * beside another host: operators' cancel is idempotent and the log refuses the stale append of
 * the second writer, which adopts the first one's records (DESIGN §5). Waits at most `timeoutMs`.
 */
export async function carryOutCancellations(handle: RunHandle, commandSeq: number, timeoutMs: number, options: DriveOptions = {}): Promise<CancellationOutcome> {
  const targets = await cancelTargets(handle, commandSeq);
  if (targets.size === 0) return { stopped: [], stillStopping: [] };
  const only = (inner: EffectHandler): EffectHandler => ({
    run: async (host, pending) => {
      if (pending.effect.type === 'attempt.cancel' && targets.has(pending.actor)) await inner.run(host, pending);
    },
  });
  const { host, runner, projections, campaign, logger } = await hostFor(handle, 'step', options, undefined, only);
  const deadline = new AbortController();
  try {
    await Promise.race([host.settle(), sleepUnlessAborted(timeoutMs, deadline.signal)]);
    // Another host may have recorded the outcome first: read what the log has now.
    await host.refresh();
    await projections.flush();
    return outcomeOf(host, targets);
  } finally {
    deadline.abort();
    runner.stop();
    await campaign.close();
    // Projections are rebuilt from the log: a flush that fails here is caught up by the next reader.
    await projections.flush().catch((err: unknown) => logger.warn({ err }, 'projections not flushed (the next reader catches up from the log)'));
  }
}
