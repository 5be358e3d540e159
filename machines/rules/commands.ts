import { inputMismatch } from '../../events/json-schema.ts';
import type { JsonValue } from '../../events/json.ts';
import type { CommandRejectionCode, RunCommand } from '../../events/run-events.ts';
import { TERMINAL_RUN_STATUSES } from '../../events/statuses.ts';
import {
  draftTask,
  getTask,
  isTaskActive,
  parseAttemptId,
  tasksInOrder,
  withTask,
  type GateDecision,
  type RunContext,
  type TaskEntry,
} from '../run-context.ts';
import { isHardFailure } from './outcome.ts';

/** Why a command is refused: a stable code and a sentence naming what is wrong. */
export interface Rejection {
  code: CommandRejectionCode;
  reason: string;
}

const reject = (code: CommandRejectionCode, reason: string): Rejection => ({ code, reason });

/** The command's verb as the CLI spells it (`CMD.CANCEL_ATTEMPT` → `cancel-attempt`). */
export function commandVerb(type: RunCommand['type']): string {
  return type.slice('CMD.'.length).toLowerCase().replace(/_/g, '-');
}

/** The task or attempt a command targets, if any (for the `command` change). */
export function commandTarget(cmd: RunCommand): string | undefined {
  if ('taskId' in cmd) return cmd.taskId;
  if ('attemptId' in cmd) return cmd.attemptId;
  return undefined;
}

/** Whether the run accepts `cmd` now; null = accepted. Pure: the machine guards and rejects with it. */
export function checkCommand(ctx: RunContext, cmd: RunCommand): Rejection | null {
  const terminal = TERMINAL_RUN_STATUSES.includes(ctx.status);
  switch (cmd.type) {
    case 'CMD.PAUSE':
      if (ctx.status === 'PAUSED') return reject('ALREADY_PAUSED', 'the run is already paused');
      return terminal ? reject('RUN_TERMINAL', `the run is ${ctx.status}`) : null;
    case 'CMD.RESUME':
      if (terminal) return reject('RUN_TERMINAL', `the run is ${ctx.status}`);
      return ctx.status === 'PAUSED' ? null : reject('NOT_PAUSED', `the run is ${ctx.status}, not PAUSED`);
    case 'CMD.CANCEL':
      return terminal ? reject('RUN_TERMINAL', `the run is already ${ctx.status}`) : null;
    case 'CMD.REVIVE':
      return ctx.status === 'FAILED' || ctx.status === 'CANCELLED'
        ? null
        : reject('RUN_NOT_TERMINAL', `only a FAILED or CANCELLED run can be revived; the run is ${ctx.status}`);
    case 'CMD.RERUN':
      return checkRerun(ctx, cmd.taskId, cmd.recursive);
    case 'CMD.CANCEL_ATTEMPT':
      return checkAttemptActive(ctx, cmd.attemptId);
    case 'CMD.APPROVE':
      return checkGate(ctx, cmd.taskId) ?? checkGateData(ctx, cmd.taskId, cmd.data);
    case 'CMD.REJECT':
      return checkGate(ctx, cmd.taskId);
  }
}

function checkRerun(ctx: RunContext, taskId: string, recursive: boolean): Rejection | null {
  if (ctx.status === 'CANCELLED') return reject('RUN_TERMINAL', 'the run is CANCELLED; revive it instead');
  if (ctx.awaitingPlan !== null && ctx.status !== 'PENDING') {
    return reject('RUN_ANALYZING', 'the campaign is analyzing the finished workflow; rerun once it has planned');
  }
  const entry = getTask(ctx, taskId);
  if (entry === undefined) return reject('TASK_NOT_FOUND', `no task ${taskId} in this run`);
  if (isTaskActive(ctx, entry)) return reject('TASK_ACTIVE', `task ${taskId} has an active attempt ${entry.current?.id}; cancel it first`);
  if (entry.current === null || !['COMPLETED', 'FAILED', 'CANCELLED'].includes(entry.status)) {
    return reject('TASK_NOT_RERUNNABLE', `task ${taskId} is ${entry.status} and has no finished attempt to rerun`);
  }
  if (recursive) {
    const busy = rerunSet(ctx, taskId, true).filter((id) => {
      const dependant = getTask(ctx, id);
      return dependant !== undefined && isTaskActive(ctx, dependant);
    });
    if (busy.length > 0) return reject('TASK_ACTIVE', `dependants of ${taskId} have active attempts: ${busy.join(', ')}`);
  }
  return null;
}

function checkAttemptActive(ctx: RunContext, attemptId: string): Rejection | null {
  if (ctx.active[attemptId] !== undefined) return null;
  const parsed = parseAttemptId(attemptId);
  const entry = parsed === undefined ? undefined : getTask(ctx, parsed.taskId);
  if (parsed === undefined || entry === undefined || parsed.n < 1 || parsed.n > entry.attempts) {
    return reject('ATTEMPT_NOT_FOUND', `no attempt ${attemptId} in this run`);
  }
  return reject('ATTEMPT_NOT_ACTIVE', `attempt ${attemptId} has already ended`);
}

function checkGate(ctx: RunContext, taskId: string): Rejection | null {
  const entry = getTask(ctx, taskId);
  if (entry === undefined) return reject('TASK_NOT_FOUND', `no task ${taskId} in this run`);
  if (entry.spec.kind !== 'gate') return reject('NOT_A_GATE', `task ${taskId} is a ${entry.spec.kind} task, not a gate`);
  // Checked before waiting: the attempt still waits until its decision is collected and reported.
  const current = entry.current;
  if (current?.decision !== undefined) {
    return reject('GATE_ALREADY_DECIDED', `gate ${taskId} was already ${describeDecision(current.decision)} (attempt ${current.id})`);
  }
  const waiting = current !== null && ['SUBMITTED', 'RUNNING', 'WAITING_EXTERNAL'].includes(current.status);
  if (!waiting || !isTaskActive(ctx, entry)) return reject('GATE_NOT_WAITING', `gate ${taskId} is ${entry.status}, not waiting for a decision`);
  return null;
}

/** An approve's data against the gate's inputSchema (when it declares one): the field at fault, or null. */
function checkGateData(ctx: RunContext, taskId: string, data: JsonValue | undefined): Rejection | null {
  const schema = getTask(ctx, taskId)?.spec.inputSchema;
  if (schema === undefined) return null;
  const mismatch = inputMismatch(schema, data);
  if (mismatch === null) return null;
  return reject('GATE_DATA_INVALID', `${mismatch.field}: ${mismatch.message} (inputSchema of gate ${taskId})`);
}

/** A gate decision as people read it: `approved by alice`. */
export function describeDecision(decision: GateDecision): string {
  return decision.by !== undefined ? `${decision.verb} by ${decision.by}` : decision.verb;
}

/**
 * The tasks a rerun resets, in stable order: the task, its SKIPPED transitive dependants (they
 * only never ran because of it) and, with `recursive`, every transitive dependant that ran.
 */
export function rerunSet(ctx: RunContext, taskId: string, recursive: boolean): string[] {
  const seen = new Set<string>([taskId]);
  const queue = [taskId];
  for (let i = 0; i < queue.length; i++) {
    for (const dependant of ctx.dependants[queue[i] as string] ?? []) {
      const entry = getTask(ctx, dependant);
      if (entry === undefined || seen.has(dependant)) continue;
      if (entry.status !== 'SKIPPED' && !(recursive && entry.current !== null)) continue;
      seen.add(dependant);
      queue.push(dependant);
    }
  }
  return queue;
}

/** Resets a task to PENDING without a current attempt; earlier attempts stay (numbering goes on). */
export function resetTask(draft: RunContext, taskId: string): void {
  const entry = draftTask(draft, taskId);
  entry.status = 'PENDING';
  entry.current = null;
  delete entry.reason;
  delete entry.retried;
}

/** The tasks a revive reruns: hard failures and SKIPPED tasks, not those still active. */
export function reviveSet(ctx: RunContext): string[] {
  const out: string[] = [];
  for (const entry of tasksInOrder(ctx)) {
    if ((isHardFailure(entry) || entry.status === 'SKIPPED') && !isTaskActive(ctx, entry)) out.push(entry.spec.id);
  }
  return out;
}

/** The active attempts, sorted: what a run cancel sends ATTEMPT.CANCEL to. */
export function activeAttemptIds(ctx: RunContext): string[] {
  return Object.keys(ctx.active).sort();
}

/** Records an accepted decision on the gate's current attempt (checked before): the context and that attempt. */
export function recordDecision(ctx: RunContext, taskId: string, decision: GateDecision): { context: RunContext; attemptId: string } {
  const entry: TaskEntry | undefined = getTask(ctx, taskId);
  if (entry?.current == null) throw new Error(`internal: gate ${taskId} has no attempt`);
  const context = withTask(ctx, taskId, { ...entry, current: { ...entry.current, decision } });
  return { context, attemptId: entry.current.id };
}
