import { sleepUnlessAborted } from '../events/sleep.ts';
import { attemptPhase } from '../machines/attempt-phase.ts';
import { currentDriver, describeDriver } from './run-driver.ts';
import { tryHostRun } from './run-host-lock.ts';
import { RunHost, type EffectHandler } from './run-host.ts';
import { type RunHandle } from './run-lifecycle.ts';
import { hostFor, type DriveOptions } from './drive-run.ts';

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
  /** Who stopped them: this command, or the process hosting the run (`matterstack loop (pid 12 on lab1, since …)`). */
  stoppedBy?: string;
}

/** Who stops the attempts with --nats: the holder of the run's lease. */
const HOST_OVER_NATS = 'the worker or loop hosting the run (holder of its lease)';
/** How often a waiting cancel reads what the host appended. */
const WATCH_POLL_MS = 200;

/** The attempts a cancel asked to stop; `unstarted`: those it moved straight from `created` to `cancelled`. */
interface CancelTargets {
  all: Set<string>;
  /** Their start may be running in a host that died: nothing in the log owes their stop, so the cancel's host runs it. */
  unstarted: Set<string>;
}

/** The attempts a command (record `commandSeq`) and anything after it asked to cancel. */
async function cancelTargets(handle: RunHandle, commandSeq: number): Promise<CancelTargets> {
  const targets: CancelTargets = { all: new Set(), unstarted: new Set() };
  for await (const record of handle.store.log.readRun(handle.runId, commandSeq - 1)) {
    if (record.type !== 'ATTEMPT.CANCEL') continue;
    targets.all.add(record.actor);
    if (record.to === 'cancelled') targets.unstarted.add(record.actor);
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
  const targets = (await cancelTargets(handle, commandSeq)).all;
  const host = await RunHost.restore(handle.store.log, handle.runId);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const outcome = { ...outcomeOf(host, targets), stoppedBy: HOST_OVER_NATS };
    if (outcome.stillStopping.length === 0 || Date.now() >= deadline) return outcome;
    await new Promise((resolve) => setTimeout(resolve, Math.min(WATCH_POLL_MS, Math.max(0, deadline - Date.now()))));
    await host.refresh();
  }
}

/**
 * Stops, from this process, the attempts in `targets` (only their owed cancel effects run, and the
 * operator's cancel of the unstarted ones: no submission, no campaign call). The caller hosts the
 * run. Waits at most `timeoutMs`.
 */
async function carryOut(handle: RunHandle, targets: CancelTargets, timeoutMs: number, options: DriveOptions): Promise<CancellationOutcome> {
  const only = (inner: EffectHandler): EffectHandler => ({
    run: async (host, pending) => {
      if (pending.effect.type === 'attempt.cancel' && targets.all.has(pending.actor)) await inner.run(host, pending);
    },
  });
  const { host, runner, projections, campaign, logger } = await hostFor(handle, 'step', options, undefined, only);
  const deadline = new AbortController();
  try {
    for (const attemptId of targets.unstarted) {
      const operatorKey = host.state.attempts.get(attemptId)?.context.operatorKey ?? '';
      host.startUnowed({ actor: attemptId, effect: { type: 'attempt.cancel', attemptId, operatorKey } });
    }
    await Promise.race([host.settle(), sleepUnlessAborted(timeoutMs, deadline.signal)]);
    // Another host may have recorded the outcome first: read what the log has now.
    await host.refresh();
    await projections.flush();
    return outcomeOf(host, targets.all);
  } finally {
    deadline.abort();
    runner.stop();
    await campaign.close();
    // Projections are rebuilt from the log: a flush that fails here is caught up by the next reader.
    await projections.flush().catch((err: unknown) => logger.info({ err }, 'projections not flushed (the next reader catches up from the log)'));
  }
}

/** How the embedded cancel names itself while it hosts the run. */
const CANCEL_DRIVER = 'matterstack cancel';
/** Who stopped the attempts when this command did. */
export const STOPPED_BY_THIS_COMMAND = 'this command';

/**
 * Sees to it, on the embedded log, that the attempts the cancel recorded at `commandSeq` asked to
 * cancel are stopped before the command returns. While another process hosts the run (holds its
 * host lock: a `loop`, a `step`, another cancel) it waits for that host to stop them; when none does
 * it takes the lock and stops them itself, so two processes never both stop them. Waits at most
 * `timeoutMs`; `stoppedBy` names who stopped them.
 */
export async function stopCancelledAttempts(handle: RunHandle, commandSeq: number, timeoutMs: number, options: DriveOptions = {}): Promise<CancellationOutcome> {
  const targets = await cancelTargets(handle, commandSeq);
  if (targets.all.size === 0) return { stopped: [], stillStopping: [] };
  const watch = await RunHost.restore(handle.store.log, handle.runId);
  const deadline = Date.now() + timeoutMs;
  let lastHost: string | undefined;
  for (;;) {
    const driver = await currentDriver(handle.runDir);
    if (driver !== null) lastHost = describeDriver(driver);
    await watch.refresh();
    const outcome = outcomeOf(watch, targets.all);
    if (outcome.stillStopping.length === 0 && targets.unstarted.size === 0) return { ...outcome, stoppedBy: lastHost ?? 'another process' };
    const remaining = deadline - Date.now();
    const hosting = await tryHostRun(handle.runDir, CANCEL_DRIVER, true);
    if (hosting !== undefined) {
      try {
        return { ...(await carryOut(handle, targets, Math.max(0, remaining), options)), stoppedBy: STOPPED_BY_THIS_COMMAND };
      } finally {
        await hosting.release();
      }
    }
    // A live host stops the unstarted ones as it reads the cancel (see RunHost.catchUp).
    if (outcome.stillStopping.length === 0) return { ...outcome, stoppedBy: lastHost ?? 'another process' };
    if (remaining <= 0) return outcome;
    await new Promise((resolve) => setTimeout(resolve, Math.min(WATCH_POLL_MS, remaining)));
  }
}
