import path from 'node:path';
import type { JsonObject } from '../events/json.ts';
import { TERMINAL_RUN_STATUSES, type TaskStatus } from '../events/statuses.ts';
import { getRunStatus, listAttempts, type AttemptView } from '../projections/queries.ts';
import { phaseOf } from '../machines/changes.ts';
import type { AttemptSnapshot } from '../machines/decide.ts';
import type { RunSystem } from '../machines/system.ts';
import { tasksInOrder, type RunContext, type TaskEntry } from '../machines/run-context.ts';
import { describeDecision } from '../machines/rules/commands.ts';
import { resolveOperator } from '../machines/rules/operator-key.ts';
import { dependencyState, isReady, statusLookup } from '../machines/rules/readiness.ts';
import { activeCounts, slotCounter } from '../machines/rules/slots.ts';
import { EXPERIMENT_FILES } from '../operators/experiment-operator.ts';
import { HUMAN_FILES } from '../operators/human-operator.ts';
import { LOCAL_FILES } from '../operators/local-operator.ts';
import { RunHost } from '../host/run-host.ts';
import type { HistoryDivergence } from '../host/history-divergence.ts';
import { describeUnreachable } from '../operators/slurm/slurm-operator.ts';
import type { RunHandle } from '../host/run-lifecycle.ts';
import { attemptDirOf, runDirOf } from '../workspace/workspace.ts';
import { loadOperatorsConfig } from '../workspace/operators-config.ts';
import { fileLogSource, readLogTail } from '../operators/attempt-log.ts';
import { OperatorRegistry } from '../operators/operator-registry.ts';
import { currentDriver, type RunDriver } from '../host/run-driver.ts';
import { logFilesOf } from './attempt-logs.ts';
import { embeddedSlotDocs, sharedSlotWaits, type SlotDocReader } from './shared-slot-wait.ts';
import { nextSteps } from './explain-next-steps.ts';
import type { Explanation, FailedAttemptLogs, GateDecisionEntry, OperatorHint, TaskExplanation, TaskReason } from './explanation.ts';

/** Lines of a failed attempt's stderr that explain shows. */
const STDERR_TAIL_LINES = 10;

/** Where else to look: who holds the run's NATS lease (`worker w1`, `matterstack loop --nats`), when it can be read; where the shared slots are. */
export interface ExplainOptions {
  leaseDriver?: () => Promise<string | undefined>;
  /** Where the shared operator slots are read (the JetStream KV bucket on NATS). Default: the embedded log's slots file under the root. */
  slotDocs?: SlotDocReader;
}

/** What `explainRun` needs of an open run. */
export type ExplainTarget = Pick<RunHandle, 'runId' | 'store' | 'workspaceDir'>;

/** Explains the run's frontier from the restored machine state (the truth) plus the projections (times). */
export async function explainRun(handle: ExplainTarget, options: ExplainOptions = {}): Promise<Explanation> {
  const host = await RunHost.restore(handle.store.log, handle.runId, { tolerateDivergence: true });
  const views = await handle.store.views();
  const status = getRunStatus(views, handle.runId);
  const explanation = explainState({ runId: handle.runId, workspaceDir: handle.workspaceDir }, host.state, host.seq, {
    attemptViews: new Map(listAttempts(views, handle.runId).map((a) => [a.attemptId, a])),
    taskTimes: new Map((status?.tasks ?? []).map((t) => [t.id, t.updatedAt])),
    history: host.divergence ?? null,
  });
  const ctx = host.state.run!.context;
  const logsOf = failedLogsReader(handle);
  const slotWaitOf = sharedSlotWaits(options.slotDocs ?? embeddedSlotDocs(handle.store.root), handle.runId);
  for (const { id, why } of explanation.tasks) {
    if (why.kind === 'waiting-operator' && why.hint.kind === 'other') why.hint.unreachable = await describeUnreachable(why.hint.dir);
    const cap = why.kind === 'waiting-operator' && why.attemptStatus === 'CREATED' ? ctx.operatorCaps[why.operatorKey] : undefined;
    if (why.kind === 'waiting-operator' && typeof cap === 'number') {
      const wait = await slotWaitOf(why.operatorKey, why.attemptId);
      why.sharedSlot = wait === null ? null : { cap, ...wait };
    }
    if (why.kind === 'failed' && why.attemptId !== null) {
      const operatorKey = host.state.attempts.get(why.attemptId)?.context.operatorKey;
      if (operatorKey !== undefined) why.logs = await logsOf({ attemptId: why.attemptId, taskId: id, operatorKey });
    }
  }
  explanation.updatedAt = status?.updatedAt ?? null;
  explanation.driver = TERMINAL_RUN_STATUSES.includes(ctx.status) ? null : await driverOf(handle, options);
  explanation.nextSteps = nextSteps(explanation);
  return explanation;
}

/** What the store adds to an explanation of the machine state: times and the history check. */
export interface StoredContext {
  attemptViews?: ReadonlyMap<string, AttemptView>;
  taskTimes?: ReadonlyMap<string, string | null>;
  history?: HistoryDivergence | null;
}

/**
 * The explanation of a run's machine state alone (no times, logs, slot queues or driver unless
 * given): why each task is not done and what a person can do. `explainRun` adds what the store
 * knows; `matterstack check` asks it of every run a scenario leaves resting.
 */
export function explainState(paths: PathContext, state: RunSystem, seq: number, stored: StoredContext = {}): Explanation {
  const run = state.run;
  if (run === undefined) throw new Error(`internal: run ${paths.runId} restored without a run actor`);
  const ctx = run.context;
  const reasons = frontier(ctx, state.attempts, stored.attemptViews ?? new Map(), paths);
  const tasks: TaskExplanation[] = [];
  const counts: Partial<Record<TaskStatus, number>> = {};
  for (const entry of tasksInOrder(ctx)) {
    counts[entry.status] = (counts[entry.status] ?? 0) + 1;
    const why = reasons.get(entry.spec.id);
    if (why === undefined) continue;
    tasks.push({
      id: entry.spec.id,
      iteration: entry.iteration,
      status: entry.status,
      kind: entry.spec.kind,
      attempts: entry.attempts,
      updatedAt: stored.taskTimes?.get(entry.spec.id) ?? null,
      why,
    });
  }
  const { total, byOperator } = activeCounts(ctx);
  const operatorKeys = [...new Set([...Object.keys(byOperator), ...Object.keys(ctx.operatorCaps)])].sort();
  const explanation: Explanation = {
    runId: paths.runId,
    workspace: ctx.workspace,
    status: ctx.status,
    phase: phaseOf(run.value),
    iteration: ctx.iteration,
    reason: ctx.reason,
    updatedAt: null,
    lastSeq: seq,
    counts,
    slots: {
      used: total,
      max: ctx.maxConcurrent,
      byOperator: operatorKeys.map((key) => ({ key, used: byOperator[key] ?? 0, max: ctx.operatorCaps[key] ?? null })),
    },
    tasks,
    decisions: gateDecisions(state.attempts),
    driver: null,
    nextSteps: [],
    history: stored.history ?? null,
  };
  explanation.nextSteps = nextSteps(explanation);
  return explanation;
}

/** Where the run's folders are. */
export interface PathContext {
  runId: string;
  workspaceDir: string;
}

/**
 * The reason of every non-COMPLETED task. Ready tasks are walked exactly as `planDispatch` walks
 * them (workflow order, the same slot counter), so "no slot" names the cap dispatch would hit.
 */
function frontier(
  ctx: RunContext,
  attempts: ReadonlyMap<string, AttemptSnapshot>,
  views: ReadonlyMap<string, AttemptView>,
  paths: PathContext,
): Map<string, TaskReason> {
  const out = new Map<string, TaskReason>();
  const slots = slotCounter(ctx);
  const statusOf = statusLookup(ctx);
  const rerun = (id: string): string => `matterstack rerun ${paths.runId} ${id}`;
  for (const entry of tasksInOrder(ctx)) {
    const id = entry.spec.id;
    if (entry.status === 'COMPLETED') continue;
    const current = entry.current;
    const snapshot = current !== null ? attempts.get(current.id) : undefined;
    switch (entry.status) {
      case 'FAILED':
        out.set(id, {
          kind: 'failed',
          attemptId: current?.id ?? null,
          reason: entry.reason ?? snapshot?.context.reason ?? null,
          allowed: entry.spec.allowFailure,
          rerunCommand: rerun(id),
          logs: null,
        });
        continue;
      case 'CANCELLED':
        out.set(id, { kind: 'cancelled', attemptId: current?.id ?? null, reason: entry.reason ?? snapshot?.context.reason ?? null, rerunCommand: rerun(id) });
        continue;
      case 'SKIPPED':
        out.set(id, skippedReason(entry, statusOf));
        continue;
      default:
        break;
    }
    if (current !== null) {
      // PENDING with an attempt (being submitted), RUNNING, WAITING_EXTERNAL: the operator has it.
      const view = views.get(current.id);
      out.set(id, {
        kind: 'waiting-operator',
        attemptId: current.id,
        operatorKey: current.operatorKey,
        attemptStatus: snapshot?.context.status ?? current.status,
        since: view?.submittedAt ?? view?.createdAt ?? null,
        hint: operatorHint(entry, current.id, current.operatorKey, snapshot, paths),
      });
      continue;
    }
    if (entry.status !== 'PENDING') {
      out.set(id, { kind: 'waiting-campaign', status: entry.status });
      continue;
    }
    const deps = dependencyState(entry.spec, statusOf);
    if (deps.kind === 'waiting') {
      const waitingOn = entry.spec.dependencies
        .map((dep) => ({ id: dep, status: statusOf(dep) ?? ('PENDING' as TaskStatus) }))
        .filter((dep) => dep.status !== 'COMPLETED');
      out.set(id, { kind: 'blocked', waitingOn });
      continue;
    }
    if (deps.kind === 'never') {
      // Not yet marked SKIPPED (the next cycle will): explain it the same way.
      out.set(id, { kind: 'skipped', dependency: deps.dependency, dependencyStatus: deps.status === 'UNKNOWN' ? null : deps.status, reason: null });
      continue;
    }
    if (!isReady(ctx, entry)) continue;
    const route = resolveOperator(entry.spec, ctx, ctx.configuredOperators);
    if (!slots.globalFree()) {
      const max = ctx.maxConcurrent ?? 0;
      out.set(id, { kind: 'no-slot', operatorKey: route.key, cap: { scope: 'global', used: max, max } });
      continue;
    }
    if (!route.ok) {
      out.set(id, { kind: 'no-operator', operatorKey: route.key, reason: route.reason });
      continue;
    }
    if (!slots.operatorFree(route.key)) {
      const max = ctx.operatorCaps[route.key] ?? 0;
      out.set(id, { kind: 'no-slot', operatorKey: route.key, cap: { scope: 'operator', key: route.key, used: max, max } });
      continue;
    }
    slots.take(route.key);
    out.set(id, { kind: 'ready', operatorKey: route.key, paused: ctx.status === 'PAUSED' });
  }
  return out;
}

function skippedReason(entry: TaskEntry, statusOf: (id: string) => TaskStatus | undefined): TaskReason {
  const state = dependencyState(entry.spec, statusOf);
  if (state.kind === 'never') {
    return { kind: 'skipped', dependency: state.dependency, dependencyStatus: state.status === 'UNKNOWN' ? null : state.status, reason: entry.reason ?? null };
  }
  // The dependency was rerun since: the reason the machine recorded still says which one it was.
  const named = /dependency (\S+) is/.exec(entry.reason ?? '')?.[1] ?? null;
  return { kind: 'skipped', dependency: named, dependencyStatus: named !== null ? (statusOf(named) ?? null) : null, reason: entry.reason ?? null };
}

/** The operator kind of a canonical key (`human.default` → `human`). */
function kindOf(operatorKey: string): string {
  const dot = operatorKey.indexOf('.');
  return dot < 0 ? operatorKey : operatorKey.slice(0, dot);
}

function operatorHint(entry: TaskEntry, attemptId: string, operatorKey: string, snapshot: AttemptSnapshot | undefined, paths: PathContext): OperatorHint {
  const c = snapshot?.context;
  // Before submission the attempt has no reported dir yet; the host always uses this one.
  const dir = c?.dir ?? attemptDirOf(paths.workspaceDir, paths.runId, entry.spec.id, attemptId);
  switch (kindOf(operatorKey)) {
    case 'human':
      return {
        kind: 'human',
        dir,
        files: [HUMAN_FILES.approved, HUMAN_FILES.response],
        approveCommand: `matterstack approve ${paths.runId} ${entry.spec.id}`,
        rejectCommand: `matterstack reject ${paths.runId} ${entry.spec.id}`,
        message: entry.spec.message ?? null,
        decided: entry.current?.decision !== undefined ? describeDecision(entry.current.decision) : null,
      };
    case 'experiment':
      return { kind: 'experiment', dir, requestFile: path.join(dir, EXPERIMENT_FILES.request), resultFile: path.join(dir, EXPERIMENT_FILES.result) };
    case 'local':
      return { kind: 'local', pid: pidOf(c?.operatorData), dir, stdout: path.join(dir, LOCAL_FILES.stdout), stderr: path.join(dir, LOCAL_FILES.stderr) };
    default:
      return { kind: 'other', operatorKey, externalId: c?.externalId ?? null, dir, unreachable: null };
  }
}

function gateDecisions(attempts: ReadonlyMap<string, AttemptSnapshot>): GateDecisionEntry[] {
  const out: GateDecisionEntry[] = [];
  for (const [attemptId, snapshot] of attempts) {
    const { decision, taskId } = snapshot.context;
    if (decision !== undefined) out.push({ taskId, attemptId, ...decision });
  }
  return out;
}

/**
 * Reads where a failed attempt's logs are and the end of its stderr, through the operator that ran
 * it (the files in the attempt folder; a remote job's were fetched back when it ended). Null for
 * operators that run no process, or when the workspace's operators.yaml cannot be read any more.
 */
function failedLogsReader(handle: ExplainTarget): (attempt: { attemptId: string; taskId: string; operatorKey: string }) => Promise<FailedAttemptLogs | null> {
  let registry: OperatorRegistry | null | undefined;
  return async (attempt) => {
    if (registry === undefined) {
      try {
        registry = OperatorRegistry.fromConfig(loadOperatorsConfig({ workspaceDir: handle.workspaceDir }));
      } catch {
        // An operators.yaml that no longer loads: the explanation goes on without log paths (loop reports the config error).
        registry = null;
      }
    }
    if (registry === null || !registry.has(attempt.operatorKey)) return null;
    const files = logFilesOf(registry, handle.workspaceDir, handle.runId, attempt);
    if (files === null) return null;
    // An unreadable stderr file: the explanation shows its path without the tail.
    const tail = await readLogTail(fileLogSource(files.stderr.local), STDERR_TAIL_LINES).catch(() => null);
    return { stdout: files.stdout.local, stderr: files.stderr.local, stderrTail: tail === null || tail === '' ? null : tail };
  };
}

function pidOf(data: JsonObject | undefined): number | null {
  const pid = data?.pid;
  return typeof pid === 'number' && pid > 0 ? pid : null;
}

/** The driver recorded in the run folder, else the holder of the run's lease. */
async function driverOf(handle: ExplainTarget, options: ExplainOptions): Promise<RunDriver | null> {
  const recorded = await currentDriver(runDirOf(handle.workspaceDir, handle.runId));
  if (recorded !== null || options.leaseDriver === undefined) return recorded;
  const driver = await options.leaseDriver();
  return driver === undefined ? null : { driver, pid: null, host: null, since: null, checked: true };
}
