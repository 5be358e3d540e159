import { existsSync } from 'node:fs';
import { errorMessage, isMatterStackError, MatterStackError } from '../events/errors.ts';
import { rootLogger, type Logger } from '../events/logger.ts';
import { activeSize } from '../machines/active-attempts.ts';
import { IdSchema } from '../events/ids.ts';
import type { RunCommand, RunEventInput } from '../events/run-events.ts';
import { RunCreatedSchema, type RunCreated } from '../events/run-events.ts';
import { TERMINAL_RUN_STATUSES, type RunStatus } from '../events/statuses.ts';
import { listRuns, type RunView } from '../projections/queries.ts';
import type { JsonValue } from '../events/json.ts';
import type { AnyCampaign, Campaign } from '../campaign/campaign.ts';
import { deferCampaign, loadCampaign, wrapCampaign, type LoadedCampaign } from '../campaign/load-campaign.ts';
import { taskRouting } from '../campaign/task-routing.ts';
import { validateWorkflow } from '../campaign/validate-workflow.ts';
import { initialRunContext } from '../machines/run-actions.ts';
import { loadOperatorsConfig, type OperatorsConfig } from '../workspace/operators-config.ts';
import { EffectRunner } from './effect-runner.ts';
import type { SharedSlots } from './shared-slots.ts';
import { embeddedSlots } from './sqlite-slot-store.ts';
import { OperatorRegistry, type RegistryOptions } from '../operators/operator-registry.ts';
import { markDriver } from './run-driver.ts';
import { hostRunOrRefuse, type Hosting } from './run-host-lock.ts';
import { SqliteEventLog } from '../storage/sqlite-event-log.ts';
import { newRunId } from './run-id.ts';
import { RunHost, type EffectHandler, type HostCheckpoint } from './run-host.ts';
import { RunStore } from './run-store.ts';
import { ProjectionScheduler } from './projection-scheduler.ts';
import { followForeignAppends } from './follow-foreign-appends.ts';
import { LIVE_RECHECK_MS, Wakeup } from './wakeup.ts';
import { osAccount } from './os-account.ts';
import { findWorkspacesRoot, resolveWorkspaceDir, runDirOf, workspaceDirOf } from '../workspace/workspace.ts';

/** An open run: where it lives and the store holding its log. Close it when done. */
export interface RunHandle {
  runId: string;
  /** Workspace slug (`demos/battery_screening`). */
  workspace: string;
  workspaceDir: string;
  runDir: string;
  root: string;
  store: RunStore;
  /** The campaign object this handle was opened with: `stepRun` and `runUntilCompletion` call it, never the workspace's file. */
  campaign?: AnyCampaign;
  /** Closes the store if this handle opened it. */
  close(): Promise<void>;
}

/** Where to find workspaces and the log. */
export interface StoreOptions {
  /** Workspaces root (`--root`); else `MATTERSTACK_WORKSPACES_ROOT`, else `<dir>/workspaces` above cwd. */
  root?: string;
  /** An open store to use (it is not closed by the handle). */
  store?: RunStore;
  /** JetStream instead of the embedded log (`nats://user:pass@host:4222` logs in as that user); else `MATTERSTACK_NATS_URL`. */
  natsUrl?: string;
}

/** Options of `initializeRun`. */
export interface InitializeRunOptions<State = JsonValue, Data = JsonValue> extends StoreOptions {
  workspace: string;
  /** The campaign (the workspace then needs no campaign file; the handle keeps it); else the workspace's campaign module. */
  campaign?: Campaign<State, Data>;
  runId?: string;
  /** Per-run global cap; defaults to operators.yaml's `max_concurrent_global` (10). */
  maxConcurrent?: number | null;
  /** Limit of one plan/analyze call in ms (default: MATTERSTACK_CAMPAIGN_TIMEOUT_MS, else 10 minutes). */
  campaignTimeoutMs?: number;
}

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

/** Errors of the run lifecycle API (a MatterStackError with a stable code). */
export class RunLifecycleError extends MatterStackError {
  constructor(code: MatterStackError['code'], message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.name = 'RunLifecycleError';
  }
}

/** Codes of the lifecycle's own failures (the caller named something missing, taken or malformed). */
const LIFECYCLE_CODES: ReadonlySet<MatterStackError['code']> = new Set(['WORKSPACE_NOT_FOUND', 'RUN_NOT_FOUND', 'RUN_EXISTS', 'VALIDATION_FAILED']);

/** `error` as a RunLifecycleError when it is one of the lifecycle's own failures (code, message and details kept). */
function asLifecycleError(error: unknown): unknown {
  if (error instanceof RunLifecycleError || !(error instanceof MatterStackError) || !LIFECYCLE_CODES.has(error.code)) return error;
  return new RunLifecycleError(error.code, error.message, error.details);
}

/** Runs a lifecycle call, raising its own failures as RunLifecycleError. */
async function lifecycle<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw asLifecycleError(error);
  }
}

/** The workspaces root of `options` (the store's, when one is given). */
function rootOf(options: StoreOptions): string {
  return options.store?.root ?? findWorkspacesRoot(options.root !== undefined ? { root: options.root } : {});
}

async function openStore(options: StoreOptions): Promise<{ store: RunStore; root: string; owned: boolean }> {
  if (options.store) return { store: options.store, root: options.store.root, owned: false };
  const root = rootOf(options);
  const natsUrl = options.natsUrl ?? process.env.MATTERSTACK_NATS_URL;
  const login = { natsUser: process.env.MATTERSTACK_NATS_USER || undefined, natsPass: process.env.MATTERSTACK_NATS_PASS || undefined };
  const store = await RunStore.open({ root, ...(natsUrl ? { natsUrl, ...login } : {}) });
  return { store, root, owned: true };
}

/**
 * A handle on run `runId`. The workspace needs a campaign file only when the run's campaign is
 * to come from it (`needsCampaignFile`): an inline campaign, or a run already in the log, does not.
 */
function handleFor(store: RunStore, owned: boolean, workspace: string, runId: string, campaign: AnyCampaign | undefined, needsCampaignFile: boolean): RunHandle {
  const workspaceDir = needsCampaignFile ? resolveWorkspaceDir(store.root, workspace) : workspaceDirOf(store.root, workspace);
  return {
    runId,
    workspace,
    workspaceDir,
    runDir: runDirOf(workspaceDir, runId),
    root: store.root,
    store,
    ...(campaign !== undefined ? { campaign } : {}),
    close: async () => {
      if (owned) await store.close();
    },
  };
}

/**
 * Creates a run (PENDING) and records the campaign's first workflow. The workflow is validated
 * before anything is logged: a bad one is an INVALID_WORKFLOW error and the log stays empty.
 * @example const run = await initializeRun({ workspace: 'demos/battery_screening' });
 */
export function initializeRun<State = JsonValue, Data = JsonValue>(options: InitializeRunOptions<State, Data>): Promise<RunHandle> {
  return lifecycle(() => createRun(options));
}

async function createRun(options: InitializeRunOptions<unknown, unknown>): Promise<RunHandle> {
  const runId = options.runId ?? newRunId();
  const idCheck = IdSchema.safeParse(runId);
  if (!idCheck.success) throw new RunLifecycleError('VALIDATION_FAILED', `invalid run id "${runId}": ${idCheck.error.issues[0]?.message}`, { runId });
  assertNoRunFolder(rootOf(options), options.workspace, runId, options.campaign === undefined);
  const { store, owned } = await openStore(options);
  try {
    const handle = handleFor(store, owned, options.workspace, runId, options.campaign, options.campaign === undefined);
    if ((await store.log.lastSeq(runId)) > 0) throw new RunLifecycleError('RUN_EXISTS', `run ${runId} already exists`, { runId });
    const config = loadOperatorsConfig({ workspaceDir: handle.workspaceDir });
    const campaign = await campaignOf(handle, undefined, options.campaignTimeoutMs);
    let raw: unknown;
    try {
      raw = await campaign.plan(null, { runId, iteration: 0 });
    } finally {
      await campaign.close();
    }
    const created = runCreatedEvent(options.workspace, config, options.maxConcurrent, campaign.maxIterations);
    const routing = taskRouting(initialRunContext(created), (key) => (Object.hasOwn(config.operators, key) ? config.operators[key] : undefined));
    const workflow = raw === null ? null : validateWorkflow(raw, { source: `campaign ${campaign.name}`, routing });
    const host = RunHost.create(store.log, runId);
    const { appended } = await host.deliver([
      { actor: 'run', event: created },
      { actor: 'run', event: { type: 'CAMPAIGN.PLANNED', iteration: 0, workflow, state: null } },
    ]);
    // Projected from the records just appended, not read back (on JetStream: the whole plan again).
    const projections = new ProjectionScheduler(store, runId);
    projections.push(appended);
    await projections.flush();
    checkpoints.set(handle, host.checkpoint());
    return handle;
  } catch (error) {
    if (owned) await store.close();
    throw error;
  }
}

/**
 * Refuses a run id whose folder exists, before anything is opened or created: a folder without a
 * run is what a lost log leaves, and its attempts' files would be taken for the new run's results.
 */
function assertNoRunFolder(root: string, workspace: string, runId: string, needsCampaignFile: boolean): void {
  const runDir = runDirOf(needsCampaignFile ? resolveWorkspaceDir(root, workspace) : workspaceDirOf(root, workspace), runId);
  if (!existsSync(runDir)) return;
  throw new RunLifecycleError('RUN_EXISTS', `run ${runId}: its folder ${runDir} already exists (a run of that id, or one whose log was lost, used it); choose another run id or move the folder away`, { runId, runDir });
}

/**
 * What the host that created a run reached: the first drive of its handle starts from there and
 * reads only later records, instead of replaying the whole first workflow it has just written.
 */
const checkpoints = new WeakMap<RunHandle, HostCheckpoint>();

/** The RUN.CREATED of a new run of `workspace` under `config` (caps, operators, routing defaults, the iteration limit). */
export function runCreatedEvent(workspace: string, config: OperatorsConfig, maxConcurrent: number | null | undefined, maxIterations: number | undefined): RunCreated {
  const operatorCaps: Record<string, number | null> = {};
  for (const [key, entry] of Object.entries(config.operators)) operatorCaps[key] = entry.maxConcurrent;
  const envOperator = process.env.MATTERSTACK_OPERATOR;
  return RunCreatedSchema.parse({
    type: 'RUN.CREATED',
    workspace,
    maxConcurrent: maxConcurrent === undefined ? config.maxConcurrentGlobal : maxConcurrent,
    operatorCaps,
    defaultOperator: config.defaultOperator,
    configuredOperators: Object.keys(config.operators),
    ...(envOperator ? { envOperator } : {}),
    ...(maxIterations !== undefined ? { maxIterations } : {}),
  } satisfies RunEventInput);
}

/**
 * The run's campaign: `given`, else the handle's, else the workspace's file; `deferred`: a
 * workspace campaign's worker starts at its first call (maxIterations is not read).
 */
async function campaignOf(handle: RunHandle, given: AnyCampaign | undefined, timeoutMs: number | undefined, deferred = false): Promise<LoadedCampaign> {
  const options = { name: handle.workspace, ...(timeoutMs !== undefined ? { timeoutMs } : {}) };
  const campaign = given ?? handle.campaign;
  if (campaign !== undefined) return wrapCampaign(handle.workspace, '(in-process)', campaign, options);
  return deferred ? deferCampaign(handle.workspaceDir, options) : loadCampaign(handle.workspaceDir, options);
}

/** Options of `initializeOrResumeRun`. */
export interface InitializeOrResumeOptions<State = JsonValue, Data = JsonValue> extends InitializeRunOptions<State, Data> {
  /** Resume this run if it exists, else create it with this id. */
  resumeRunId?: string;
  /** Resume the newest run of the workspace whatever its status. */
  resumeAlways?: boolean;
}

/**
 * Resumes a run or starts a new one (SPEC §3): with `resumeRunId`, that run (created if missing);
 * otherwise the newest run of the workspace if it is active (or always with `resumeAlways`).
 */
export function initializeOrResumeRun<State = JsonValue, Data = JsonValue>(options: InitializeOrResumeOptions<State, Data>): Promise<RunHandle> {
  return lifecycle(() => createOrResumeRun(options));
}

async function createOrResumeRun(options: InitializeOrResumeOptions<unknown, unknown>): Promise<RunHandle> {
  const { store, owned } = await openStore(options);
  const shared = { ...options, store };
  try {
    if (options.resumeRunId !== undefined) {
      const runId = options.resumeRunId;
      if ((await store.log.lastSeq(runId)) > 0) return await openExisting({ ...shared, runId }, owned);
      try {
        return await withOwnership(createRun({ ...shared, runId }), owned);
      } catch (error) {
        // Another process created it meanwhile (its RUN.CREATED won): resume that run.
        if (isMatterStackError(error, 'RUN_EXISTS') && (await store.log.lastSeq(runId)) > 0) return await openExisting({ ...shared, runId }, owned);
        throw error;
      }
    }
    const views = await store.views();
    const newest = listRuns(views, { all: true })
      .filter((run) => run.workspace === options.workspace)
      .sort((a, b) => b.runId.localeCompare(a.runId))[0];
    const active = newest !== undefined && (options.resumeAlways || !TERMINAL_RUN_STATUSES.includes(newest.status as RunStatus));
    if (newest !== undefined && active) return await openExisting({ ...shared, runId: newest.runId }, owned);
    return await withOwnership(createRun(shared), owned);
  } catch (error) {
    if (owned) await store.close();
    throw error;
  }
}

async function withOwnership(handle: Promise<RunHandle>, owned: boolean): Promise<RunHandle> {
  const opened = await handle;
  if (!owned) return opened;
  const reopened = { ...opened, close: () => opened.store.close() };
  const checkpoint = checkpoints.get(opened);
  if (checkpoint !== undefined) checkpoints.set(reopened, checkpoint);
  return reopened;
}

/** Options of `openRun`. */
export interface OpenRunOptions<State = JsonValue, Data = JsonValue> extends StoreOptions {
  runId: string;
  /** The campaign the handle calls (else the workspace's campaign file). */
  campaign?: Campaign<State, Data>;
}

/** Opens an existing run by id (RunLifecycleError RUN_NOT_FOUND when the log has none). */
export function openRun<State = JsonValue, Data = JsonValue>(options: OpenRunOptions<State, Data>): Promise<RunHandle> {
  return lifecycle(() => openExisting(options));
}

async function openExisting(options: OpenRunOptions<unknown, unknown>, ownedStore?: boolean): Promise<RunHandle> {
  const opened = await openStore(options);
  const owned = ownedStore ?? opened.owned;
  const { store } = opened;
  try {
    // Only the workspace is read here: a run this version would not host still opens for the views (hosting it is refused later).
    const host = await RunHost.restore(store.log, options.runId, { tolerateDivergence: true });
    const workspace = host.state.run?.context.workspace ?? '';
    return handleFor(store, owned, workspace, options.runId, options.campaign, false);
  } catch (error) {
    if (owned) await store.close();
    throw error;
  }
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
  const checkpoint = checkpoints.get(handle);
  checkpoints.delete(handle);
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

/** The reply to a command: accepted with the sequence of its record, or rejected with a code. */
export type CommandReply =
  | { accepted: true; seq: number }
  | { accepted: false; code: string; message: string };

/**
 * Sends a command to a run (embedded path: appended directly; the process hosting the run runs its
 * effects). The record's principal is this process's OS account, whatever the caller put there.
 */
export async function sendCommand(handle: RunHandle, command: RunCommand): Promise<CommandReply> {
  const host = await lifecycle(() => RunHost.restore(handle.store.log, handle.runId));
  const { principal: _claimed, ...rest } = command;
  const account = osAccount();
  const event: RunCommand = { ...rest, ...(account !== undefined ? { principal: account } : {}) };
  const { appended } = await host.deliver({ actor: 'run', event });
  await handle.store.project();
  const record = appended.find((r) => r.actor === 'run' && r.type === command.type);
  const outcome = record?.changes.find((c) => c.kind === 'command');
  if (record === undefined || outcome === undefined || outcome.kind !== 'command') {
    return { accepted: false, code: 'COMMAND_REJECTED', message: `${command.type} changed nothing` };
  }
  if (outcome.accepted) return { accepted: true, seq: record.seq };
  return { accepted: false, code: outcome.code ?? 'COMMAND_REJECTED', message: outcome.reason ?? 'rejected' };
}

/** Every run in every workspace (nested slugs included) whose status is PENDING, RUNNING or PAUSED. */
export async function listActiveRuns(options: StoreOptions = {}): Promise<RunView[]> {
  const { store, owned } = await lifecycle(() => openStore(options));
  try {
    return listRuns(await store.views());
  } finally {
    if (owned) await store.close();
  }
}
