import { errorMessage } from '../events/errors.ts';
import { rootLogger, type Logger } from '../events/logger.ts';
import { activeSize } from '../machines/active-attempts.ts';
import { TERMINAL_RUN_STATUSES, type RunStatus } from '../events/statuses.ts';
import type { JsonValue } from '../events/json.ts';
import type { Campaign } from '../campaign/campaign.ts';
import type { LoadedCampaign } from '../campaign/load-campaign.ts';
import { loadOperatorsConfig } from '../workspace/operators-config.ts';
import { EffectRunner } from './effect-runner.ts';
import type { SharedSlots } from './shared-slots.ts';
import { embeddedSlots } from './sqlite-slot-store.ts';
import { OperatorRegistry, type RegistryOptions } from '../operators/operator-registry.ts';
import { markDriver } from './run-driver.ts';
import { hostRunOrRefuse, type Hosting } from './run-host-lock.ts';
import { SqliteEventLog } from '../storage/sqlite-event-log.ts';
import { RunHost, type EffectHandler } from './run-host.ts';
import { ProjectionScheduler } from './projection-scheduler.ts';
import { followForeignAppends } from './follow-foreign-appends.ts';
import { LIVE_RECHECK_MS, Wakeup } from './wakeup.ts';
import { campaignOf, lifecycle, takeCheckpoint, type RunHandle } from './run-lifecycle.ts';

/** Options of `stepRun` / `runUntilCompletion`. */
export interface DriveOptions<State = JsonValue, Data = JsonValue> {
  /** The campaign to call instead of the handle's (or, for a handle without one, the workspace's file). */
  campaign?: Campaign<State, Data>;
  registry?: RegistryOptions;
  /** Stops `runUntilCompletion` (the run stays as it is in the log and can be resumed). */
  signal?: AbortSignal;
  /** Called after each batch of records is appended. */
  onProgress?: (status: RunStatus | undefined) => void;
  /** Limit of one plan/analyze call in ms (default: MATTERSTACK_CAMPAIGN_TIMEOUT_MS, else 10 minutes). */
  campaignTimeoutMs?: number;
  /** Who drives the run (`matterstack loop`, `worker w1`), recorded for `explain` and `cancel` while `stepRun` or `runUntilCompletion` runs. */
  driver?: string;
  /** Where the host, effect runner and operators log (each adds the run id; default: the process's logger). */
  logger?: Logger;
  /** The operator slots shared with other runs (default on the embedded log: the root's, shared by every `loop`). */
  slots?: SharedSlots;
}

/** The root's shared operator slots, or none when its slot file cannot be opened (read-only root): each run's own caps still hold. */
function sharedSlotsOf(root: string, logger: Logger): SharedSlots | undefined {
  try {
    return embeddedSlots(root);
  } catch (err) {
    logger.warn({ err }, 'operator caps counted per run only: the shared slot file cannot be opened');
    return undefined;
  }
}

/** A host of the run with this process's operators and effect runner (`effects`: which owed effects it runs; default all). */
export async function hostFor(
  handle: RunHandle,
  mode: 'live' | 'step',
  options: DriveOptions<unknown, unknown>,
  onChange: () => void = () => undefined,
  effects: (runner: EffectRunner) => EffectHandler = (runner) => runner,
): Promise<{ host: RunHost; runner: EffectRunner; projections: ProjectionScheduler; campaign: LoadedCampaign; logger: Logger }> {
  const config = loadOperatorsConfig({ workspaceDir: handle.workspaceDir });
  const operators = OperatorRegistry.fromConfig(config, options.registry ?? {});
  const campaign = await campaignOf(handle, options.campaign, options.campaignTimeoutMs, true);
  const logger = (options.logger ?? rootLogger()).child({ runId: handle.runId });
  // Only a workspace with a capped operator, or a global cap of its own, opens the root's slot file (a read-only root still runs uncapped work).
  const globalCap = config.sharedGlobalCap;
  const capped = globalCap !== undefined || Object.values(config.operators).some((entry) => entry.maxConcurrent !== null);
  const slots = options.slots ?? (capped && handle.store.log instanceof SqliteEventLog ? sharedSlotsOf(handle.store.root, logger) : undefined);
  const shared = slots ? { slots, ...(globalCap !== undefined ? { globalCap } : {}) } : {};
  const runner = new EffectRunner({ runId: handle.runId, workspaceDir: handle.workspaceDir, operators, campaign, mode, logger, ...shared });
  const projections = new ProjectionScheduler(handle.store, handle.runId);
  const checkpoint = takeCheckpoint(handle);
  const host = await RunHost.restore(handle.store.log, handle.runId, {
    effects: effects(runner),
    logger,
    // Live driving folds the RUN.STEP that reacts to a batch into that batch's append (one durable append where two were).
    autoStep: mode === 'live',
    onAppended: (records) => {
      runner.releaseEndedSlots(host);
      projections.push(records);
      projections.schedule();
      onChange();
      options.onProgress?.(host.status);
    },
    onStopped: onChange,
  }, checkpoint).catch(async (error: unknown) => {
    await campaign.close();
    throw error;
  });
  return { host, runner, projections, campaign, logger };
}

/**
 * One cycle: poll every active attempt, then POLL → PLAN → EXECUTE → ANALYZE; waits for the
 * submissions, collections and campaign calls it started. Returns the run status.
 */
export function stepRun<State = JsonValue, Data = JsonValue>(handle: RunHandle, options: DriveOptions<State, Data> = {}): Promise<RunStatus> {
  return lifecycle(() => stepOnce(handle, options));
}

/** Who drives a run through the API when the caller does not say. */
const API_DRIVER = 'a program using the MatterStack API';

/**
 * Hosts the run for this process: on the embedded log under the run's host lock (refused while
 * another process drives it); on NATS the run's lease decides who hosts, so only the driver is recorded.
 */
async function hostRun(handle: RunHandle, driver: string, options: { transient?: boolean; signal?: AbortSignal }): Promise<Hosting> {
  if (handle.store.log instanceof SqliteEventLog) return hostRunOrRefuse(handle.runDir, handle.runId, driver, options);
  const unmark = await markDriver(handle.runDir, driver);
  // The driver record is informational; a stale one is recognised by its dead process.
  return { release: () => unmark().catch(() => undefined) };
}

async function stepOnce(handle: RunHandle, options: DriveOptions<unknown, unknown>): Promise<RunStatus> {
  // A step hosts the run for one cycle only: a loop starting meanwhile waits for it.
  const hosting = await hostRun(handle, options.driver ?? API_DRIVER, { transient: true, ...(options.signal ? { signal: options.signal } : {}) });
  try {
    return await stepHosted(handle, options);
  } finally {
    await hosting.release();
  }
}

async function stepHosted(handle: RunHandle, options: DriveOptions<unknown, unknown>): Promise<RunStatus> {
  const { host, runner, projections, campaign, logger } = await hostFor(handle, 'step', options);
  try {
    await host.settle();
    await runner.pollActive(host);
    await host.settle();
    await host.deliver({ actor: 'run', event: { type: 'RUN.STEP' } });
    await host.settle();
    await projections.flush();
    raiseEffectErrors(host);
    return host.status ?? 'PENDING';
  } finally {
    runner.stop();
    await campaign.close();
    // Projections are rebuilt from the log: a flush that fails here is caught up by the next reader.
    await projections.flush().catch((err: unknown) => logger.info({ err }, 'projections not flushed (the next reader catches up from the log)'));
  }
}

/**
 * Throws what stopped the host (a failed append), else the errors of effects: the one error as
 * it is, several together as an AggregateError (the first alone would hide the others).
 */
export function raiseEffectErrors(host: RunHost): void {
  if (host.failure !== undefined) throw host.failure;
  const errors = host.drainErrors();
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} effects failed: ${errors.map(errorMessage).join('; ')}`);
}

/**
 * Drives the run until it is terminal, reacting to attempt changes and commands as they happen
 * (operators push changes, or are polled on their own interval). Resolves with the final status.
 */
export function runUntilCompletion<State = JsonValue, Data = JsonValue>(handle: RunHandle, options: DriveOptions<State, Data> = {}): Promise<RunStatus> {
  return lifecycle(() => driveToEnd(handle, options));
}

async function driveToEnd(handle: RunHandle, options: DriveOptions<unknown, unknown>): Promise<RunStatus> {
  const hosting = await hostRun(handle, options.driver ?? API_DRIVER, options.signal ? { signal: options.signal } : {});
  try {
    return await driveHosted(handle, options);
  } finally {
    await hosting.release();
  }
}

async function driveHosted(handle: RunHandle, options: DriveOptions<unknown, unknown>): Promise<RunStatus> {
  const wake = new Wakeup();
  const { host, runner, projections, campaign, logger } = await hostFor(handle, 'live', options, () => wake.notify());
  const follow = new AbortController();
  const stop = (): void => {
    follow.abort();
    // A campaign call still out (perhaps hung) is abandoned, not awaited: its effect is re-issued on resume.
    runner.stop();
    void campaign.close();
    wake.notify();
  };
  options.signal?.addEventListener('abort', stop, { once: true });
  void followForeignAppends(handle, host, follow.signal, () => wake.notify());
  try {
    let stepped = -1;
    while (!options.signal?.aborted) {
      await host.settle();
      raiseEffectErrors(host);
      if (isFinished(host)) break;
      if (host.seq !== stepped && host.status !== 'PAUSED') {
        await host.deliver({ actor: 'run', event: { type: 'RUN.STEP' } });
        stepped = host.seq;
        continue;
      }
      await wake.wait(LIVE_RECHECK_MS);
    }
    await projections.flush();
    return host.status ?? 'PENDING';
  } finally {
    follow.abort();
    runner.stop();
    await campaign.close();
    options.signal?.removeEventListener('abort', stop);
    // Projections are rebuilt from the log: a flush that fails here is caught up by the next reader.
    await projections.flush().catch((err: unknown) => logger.info({ err }, 'projections not flushed (the next reader catches up from the log)'));
  }
}

/** Terminal and nothing left moving (attempts being cancelled are waited for). */
function isFinished(host: RunHost): boolean {
  const status = host.status;
  if (status === undefined || !TERMINAL_RUN_STATUSES.includes(status)) return false;
  const run = host.state.run;
  if (run === undefined) return true;
  return activeSize(run.context.active) === 0;
}
