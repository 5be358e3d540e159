import { MatterStackError } from '../events/errors.ts';
import { activeSize } from '../machines/active-attempts.ts';
import { IdSchema } from '../events/ids.ts';
import type { RunCommand, RunEventInput } from '../events/run-events.ts';
import { parseRunEvent } from '../events/run-events.ts';
import { TERMINAL_RUN_STATUSES, type RunStatus } from '../events/statuses.ts';
import { listRuns, type RunView } from '../projections/queries.ts';
import type { Campaign } from './campaign/campaign.ts';
import { deferCampaign, loadCampaign, wrapCampaign, type LoadedCampaign } from './campaign/load-campaign.ts';
import { validateWorkflow } from './campaign/validate-workflow.ts';
import { loadOperatorsConfig, type OperatorsConfig } from './config/operators-config.ts';
import { EffectRunner } from './effect-runner.ts';
import { OperatorRegistry, type RegistryOptions } from './operators/operator-registry.ts';
import { newRunId } from './run-id.ts';
import { RunHost, type HostCheckpoint } from './run-host.ts';
import { RunStore } from './run-store.ts';
import { ProjectionScheduler } from './projection-scheduler.ts';
import { followForeignAppends } from './follow-foreign-appends.ts';
import { Wakeup } from './wakeup.ts';
import { osAccount } from './os-account.ts';
import { findWorkspacesRoot, resolveWorkspaceDir, runDirOf } from './workspace.ts';

/** An open run: where it lives and the store holding its log. Close it when done. */
export interface RunHandle {
  runId: string;
  /** Workspace slug (`demos/battery_screening`). */
  workspace: string;
  workspaceDir: string;
  runDir: string;
  root: string;
  store: RunStore;
  /** Closes the store if this handle opened it. */
  close(): Promise<void>;
}

/** Where to find workspaces and the log. */
export interface StoreOptions {
  /** Workspaces root (`--root`); else `MATTERSTACK_WORKSPACES_ROOT`, else `<dir>/workspaces` above cwd. */
  root?: string;
  /** An open store to use (it is not closed by the handle). */
  store?: RunStore;
  /** JetStream instead of the embedded log. */
  natsUrl?: string;
}

/** Options of `initializeRun`. */
export interface InitializeRunOptions extends StoreOptions {
  workspace: string;
  /** The campaign; loaded from the workspace's campaign module when omitted. */
  campaign?: Campaign;
  runId?: string;
  /** Per-run global cap; defaults to operators.yaml's `max_concurrent_global` (10). */
  maxConcurrent?: number | null;
  /** Limit of one plan/analyze call in ms (default: MATTERSTACK_CAMPAIGN_TIMEOUT_MS, else 10 minutes). */
  campaignTimeoutMs?: number;
}

/** Options of `stepRun` / `runUntilCompletion`. */
export interface DriveOptions {
  campaign?: Campaign;
  registry?: RegistryOptions;
  /** Stops `runUntilCompletion` (the run stays as it is in the log and can be resumed). */
  signal?: AbortSignal;
  /** Called after each batch of records is appended. */
  onProgress?: (status: RunStatus | undefined) => void;
  /** Limit of one plan/analyze call in ms (default: MATTERSTACK_CAMPAIGN_TIMEOUT_MS, else 10 minutes). */
  campaignTimeoutMs?: number;
}

/** Errors of the run lifecycle API (a MatterStackError with a stable code). */
export class RunLifecycleError extends MatterStackError {
  constructor(code: MatterStackError['code'], message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.name = 'RunLifecycleError';
  }
}

async function openStore(options: StoreOptions): Promise<{ store: RunStore; root: string; owned: boolean }> {
  if (options.store) return { store: options.store, root: options.store.root, owned: false };
  const root = findWorkspacesRoot(options.root !== undefined ? { root: options.root } : {});
  const natsUrl = options.natsUrl ?? process.env.MATTERSTACK_NATS_URL;
  const store = await RunStore.open({ root, ...(natsUrl ? { natsUrl } : {}) });
  return { store, root, owned: true };
}

function handleFor(store: RunStore, owned: boolean, workspace: string, runId: string): RunHandle {
  const workspaceDir = resolveWorkspaceDir(store.root, workspace);
  return {
    runId,
    workspace,
    workspaceDir,
    runDir: runDirOf(workspaceDir, runId),
    root: store.root,
    store,
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
export async function initializeRun(options: InitializeRunOptions): Promise<RunHandle> {
  const { store, owned } = await openStore(options);
  try {
    const runId = options.runId ?? newRunId();
    const idCheck = IdSchema.safeParse(runId);
    if (!idCheck.success) throw new RunLifecycleError('VALIDATION_FAILED', `invalid run id "${runId}": ${idCheck.error.issues[0]?.message}`, { runId });
    const handle = handleFor(store, owned, options.workspace, runId);
    if ((await store.log.lastSeq(runId)) > 0) throw new RunLifecycleError('RUN_EXISTS', `run ${runId} already exists`, { runId });
    const config = loadOperatorsConfig({ workspaceDir: handle.workspaceDir });
    const campaign = await campaignOf(handle, options.campaign, options.campaignTimeoutMs);
    let raw: unknown;
    try {
      raw = await campaign.plan(null);
    } finally {
      await campaign.close();
    }
    const workflow = raw === null ? null : validateWorkflow(raw, { source: `campaign ${campaign.name}` });
    const host = RunHost.create(store.log, runId);
    const created = runCreatedEvent(options.workspace, config, options.maxConcurrent, campaign.maxIterations);
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
 * What the host that created a run reached: the first drive of its handle starts from there and
 * reads only later records, instead of replaying the whole first workflow it has just written.
 */
const checkpoints = new WeakMap<RunHandle, HostCheckpoint>();

function runCreatedEvent(workspace: string, config: OperatorsConfig, maxConcurrent: number | null | undefined, maxIterations: number | undefined) {
  const operatorCaps: Record<string, number | null> = {};
  for (const [key, entry] of Object.entries(config.operators)) operatorCaps[key] = entry.maxConcurrent;
  const envOperator = process.env.MATTERSTACK_OPERATOR;
  return parseRunEvent({
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

/** The run's campaign; `deferred`: a workspace campaign's worker starts at its first call (maxIterations is not read). */
async function campaignOf(handle: RunHandle, campaign: Campaign | undefined, timeoutMs: number | undefined, deferred = false): Promise<LoadedCampaign> {
  const options = { name: handle.workspace, ...(timeoutMs !== undefined ? { timeoutMs } : {}) };
  if (campaign !== undefined) return wrapCampaign(handle.workspace, '(in-process)', campaign, options);
  return deferred ? deferCampaign(handle.workspaceDir, options) : loadCampaign(handle.workspaceDir, options);
}

/** Options of `initializeOrResumeRun`. */
export interface InitializeOrResumeOptions extends InitializeRunOptions {
  /** Resume this run if it exists, else create it with this id. */
  resumeRunId?: string;
  /** Resume the newest run of the workspace whatever its status. */
  resumeAlways?: boolean;
}

/**
 * Resumes a run or starts a new one (SPEC §3): with `resumeRunId`, that run (created if missing);
 * otherwise the newest run of the workspace if it is active (or always with `resumeAlways`).
 */
export async function initializeOrResumeRun(options: InitializeOrResumeOptions): Promise<RunHandle> {
  const { store, owned } = await openStore(options);
  const shared = { ...options, store };
  try {
    if (options.resumeRunId !== undefined) {
      if ((await store.log.lastSeq(options.resumeRunId)) > 0) return await openRun({ ...shared, runId: options.resumeRunId }, owned);
      return await withOwnership(initializeRun({ ...shared, runId: options.resumeRunId }), owned);
    }
    const views = await store.views();
    const newest = listRuns(views, { all: true })
      .filter((run) => run.workspace === options.workspace)
      .sort((a, b) => b.runId.localeCompare(a.runId))[0];
    const active = newest !== undefined && (options.resumeAlways || !TERMINAL_RUN_STATUSES.includes(newest.status as RunStatus));
    if (newest !== undefined && active) return await openRun({ ...shared, runId: newest.runId }, owned);
    return await withOwnership(initializeRun(shared), owned);
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

/** Opens an existing run by id (RUN_NOT_FOUND when the log has none). */
export async function openRun(options: StoreOptions & { runId: string }, ownedStore?: boolean): Promise<RunHandle> {
  const opened = await openStore(options);
  const owned = ownedStore ?? opened.owned;
  const { store } = opened;
  try {
    const host = await RunHost.restore(store.log, options.runId);
    const workspace = host.state.run?.context.workspace ?? '';
    return handleFor(store, owned, workspace, options.runId);
  } catch (error) {
    if (owned) await store.close();
    throw error;
  }
}

async function hostFor(
  handle: RunHandle,
  mode: 'live' | 'step',
  options: DriveOptions,
  onAppended: () => void = () => undefined,
): Promise<{ host: RunHost; runner: EffectRunner; projections: ProjectionScheduler; campaign: LoadedCampaign }> {
  const config = loadOperatorsConfig({ workspaceDir: handle.workspaceDir });
  const operators = OperatorRegistry.fromConfig(config, options.registry ?? {});
  const campaign = await campaignOf(handle, options.campaign, options.campaignTimeoutMs, true);
  const runner = new EffectRunner({ runId: handle.runId, workspaceDir: handle.workspaceDir, operators, campaign, mode });
  const projections = new ProjectionScheduler(handle.store, handle.runId);
  const checkpoint = checkpoints.get(handle);
  checkpoints.delete(handle);
  const host = await RunHost.restore(handle.store.log, handle.runId, {
    effects: runner,
    // Live driving folds the RUN.STEP that reacts to a batch into that batch's append (one durable append where two were).
    autoStep: mode === 'live',
    onAppended: (records) => {
      projections.push(records);
      projections.schedule();
      onAppended();
      options.onProgress?.(host.status);
    },
  }, checkpoint).catch(async (error: unknown) => {
    await campaign.close();
    throw error;
  });
  return { host, runner, projections, campaign };
}

/**
 * One cycle: poll every active attempt, then POLL → PLAN → EXECUTE → ANALYZE; waits for the
 * submissions, collections and campaign calls it started. Returns the run status.
 */
export async function stepRun(handle: RunHandle, options: DriveOptions = {}): Promise<RunStatus> {
  const { host, runner, projections, campaign } = await hostFor(handle, 'step', options);
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
    await projections.flush().catch(() => undefined);
  }
}

function raiseEffectErrors(host: RunHost): void {
  const [first] = host.drainErrors();
  if (first !== undefined) throw first;
}

/**
 * Drives the run until it is terminal, reacting to attempt changes and commands as they happen
 * (operators push changes, or are polled on their own interval). Resolves with the final status.
 */
export async function runUntilCompletion(handle: RunHandle, options: DriveOptions = {}): Promise<RunStatus> {
  const wake = new Wakeup();
  const { host, runner, projections, campaign } = await hostFor(handle, 'live', options, () => wake.notify());
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
      await wake.wait(1000);
    }
    await projections.flush();
    return host.status ?? 'PENDING';
  } finally {
    follow.abort();
    runner.stop();
    await campaign.close();
    options.signal?.removeEventListener('abort', stop);
    await projections.flush().catch(() => undefined);
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
  const host = await RunHost.restore(handle.store.log, handle.runId);
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
  const { store, owned } = await openStore(options);
  try {
    return listRuns(await store.views());
  } finally {
    if (owned) await store.close();
  }
}
