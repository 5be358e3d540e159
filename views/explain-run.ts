import path from 'node:path';
import type { JsonObject } from '../events/json.ts';
import { TERMINAL_RUN_STATUSES, type AttemptStatus, type RunStatus, type TaskStatus } from '../events/statuses.ts';
import { getRunStatus, listAttempts, type AttemptView } from '../projections/queries.ts';
import { phaseOf } from '../machines/changes.ts';
import type { AttemptDecisionRecord } from '../machines/attempt.machine.ts';
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
import { writerText } from '../events/host-version.ts';
import { describeUnreachable } from '../operators/slurm/slurm-operator.ts';
import type { RunHandle } from '../host/run-lifecycle.ts';
import { attemptDirOf, runDirOf } from '../workspace/workspace.ts';
import { loadOperatorsConfig } from '../workspace/operators-config.ts';
import { fileLogSource, readLogTail } from '../operators/attempt-log.ts';
import { OperatorRegistry } from '../operators/operator-registry.ts';
import { currentDriver, describeDriver, type RunDriver } from '../host/run-driver.ts';
import { logFilesOf } from './attempt-logs.ts';
import { embeddedSlotDocs, sharedSlotWaits, type SharedSlotWait, type SlotDocReader } from './shared-slot-wait.ts';

/** What an operator-specific hint tells a person to look at or do. */
export type OperatorHint =
  /** `decided`: the accepted decision (`approved by alice`) the host driving the run has not acted on yet, else null. */
  | { kind: 'human'; dir: string; files: string[]; approveCommand: string; rejectCommand: string; message: string | null; decided: string | null }
  | { kind: 'experiment'; dir: string; requestFile: string; resultFile: string }
  | { kind: 'local'; pid: number | null; dir: string; stdout: string; stderr: string }
  /** `unreachable`: the cluster outage the operator is riding out ("cluster unreachable since …, retry n"). */
  | { kind: 'other'; operatorKey: string; externalId: string | null; dir: string; unreachable: string | null };

/** Where a failed attempt's output is, and the end of its stderr (null when it wrote none). */
export interface FailedAttemptLogs {
  stdout: string;
  stderr: string;
  stderrTail: string | null;
}

/** Lines of a failed attempt's stderr that explain shows. */
const STDERR_TAIL_LINES = 10;

/** Which cap keeps a ready task from starting. */
export type FullCap = { scope: 'global'; used: number; max: number } | { scope: 'operator'; key: string; used: number; max: number };

/** Why one task is not done. */
export type TaskReason =
  | {
      kind: 'waiting-operator';
      attemptId: string;
      operatorKey: string;
      attemptStatus: AttemptStatus;
      since: string | null;
      hint: OperatorHint;
      /** Not submitted yet: in line for a slot of its capped operator, whose slots runs share (null when not in line). */
      sharedSlot?: (SharedSlotWait & { cap: number }) | null;
    }
  | { kind: 'ready'; operatorKey: string; paused: boolean }
  | { kind: 'no-slot'; operatorKey: string; cap: FullCap }
  | { kind: 'no-operator'; operatorKey: string; reason: string }
  | { kind: 'blocked'; waitingOn: { id: string; status: TaskStatus }[] }
  | { kind: 'skipped'; dependency: string | null; dependencyStatus: TaskStatus | null; reason: string | null }
  | { kind: 'failed'; attemptId: string | null; reason: string | null; allowed: boolean; rerunCommand: string; logs: FailedAttemptLogs | null }
  | { kind: 'cancelled'; attemptId: string | null; reason: string | null; rerunCommand: string }
  | { kind: 'waiting-campaign'; status: TaskStatus };

/** One non-done task and why. */
export interface TaskExplanation {
  id: string;
  iteration: number;
  status: TaskStatus;
  kind: string;
  attempts: number;
  updatedAt: string | null;
  why: TaskReason;
}

/** Why the run is where it is (the `explain` view). */
export interface Explanation {
  runId: string;
  workspace: string;
  status: RunStatus;
  phase: string;
  iteration: number;
  reason: string | null;
  updatedAt: string | null;
  lastSeq: number;
  counts: Partial<Record<TaskStatus, number>>;
  slots: { used: number; max: number | null; byOperator: { key: string; used: number; max: number | null }[] };
  /** Every task that is not COMPLETED, in workflow order. */
  tasks: TaskExplanation[];
  /** Every approve / reject a gate attempt took, oldest attempt first, with its comment and data. */
  decisions: GateDecisionEntry[];
  /** The `loop` or worker driving the run right now, as recorded in the run folder. */
  driver: RunDriver | null;
  /** What a person can do now, most useful first. */
  nextSteps: string[];
  /**
   * The first record this version decides differently from its log (it then refuses to host the
   * run); the rest of the explanation is what this version makes of the log. Null when they agree.
   */
  history: HistoryDivergence | null;
}

/** One gate decision as `explain` lists it. */
export interface GateDecisionEntry extends AttemptDecisionRecord {
  taskId: string;
  attemptId: string;
}

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

/** What to do next, derived from the run status and the task reasons (deduplicated, in order). */
function nextSteps(e: Explanation): string[] {
  const steps: string[] = [];
  const run = e.runId;
  if (e.history !== null) {
    // Every other step needs a host, which this version refuses to be.
    const writer = e.history.writtenBy === null ? 'the MatterStack version that wrote it' : `MatterStack ${e.history.writtenBy.version}`;
    return [
      `host the run with ${writer} (${writerText(e.history.readBy)} decides seq ${e.history.seq} differently and refuses to host it); see \`matterstack replay ${run} --verify\` and README "Upgrades and history"`,
    ];
  }
  if (e.status === 'PAUSED') steps.push(`resume with \`matterstack resume ${run}\``);
  if (e.status === 'FAILED') {
    for (const t of e.tasks) if (t.why.kind === 'failed' && !t.why.allowed) steps.push(`rerun the failed task with \`${t.why.rerunCommand}\` (add --recursive for its dependants)`);
    steps.push(`or revive the run with \`matterstack revive ${run}\` (reruns every failed task)`);
  }
  if (e.status === 'CANCELLED') steps.push(`revive the run with \`matterstack revive ${run}\``);
  for (const t of e.tasks) {
    if (t.why.kind !== 'waiting-operator') continue;
    const hint = t.why.hint;
    if (hint.kind === 'human' && hint.decided === null) {
      steps.push(`approve gate ${t.id} with \`${hint.approveCommand}\` (or \`${hint.rejectCommand}\`), or drop ${hint.files.join(' or ')} in ${hint.dir}`);
    } else if (hint.kind === 'experiment') {
      steps.push(`answer the request ${hint.requestFile} by writing ${hint.resultFile}`);
    }
  }
  const moving = e.tasks.some((t) => t.why.kind === 'ready' || t.why.kind === 'no-slot' || t.why.kind === 'waiting-operator' || t.why.kind === 'blocked');
  if ((e.status === 'RUNNING' || e.status === 'PENDING') && (moving || e.tasks.length === 0)) {
    if (e.driver === null) steps.push(`keep it going with \`matterstack loop ${run}\` (or one cycle: \`matterstack step ${run}\`)`);
    else if (e.driver.checked) steps.push(`nothing to start: ${describeDriver(e.driver)} drives it; follow it with \`matterstack status ${run}\``);
    else steps.push(`${describeDriver(e.driver)} drives it (not checkable from this host); if that process is gone, keep it going with \`matterstack loop ${run}\``);
  }
  if (e.tasks.some((t) => t.why.kind === 'no-slot')) steps.push('tasks wait for a free slot: raise max_concurrent in operators.yaml (for new runs) or let running attempts finish');
  for (const t of e.tasks) if (t.why.kind === 'no-operator') steps.push(`configure operator "${t.why.operatorKey}" in operators.yaml or set the task's operatorKey`);
  if (e.status === 'COMPLETED') steps.push(`export the evidence with \`matterstack export-evidence ${run}\``);
  return [...new Set(steps)];
}
