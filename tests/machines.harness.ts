// Test harness for the machines: a run system driven through `deliver`, events parsed by the
// schemas of events/run-events.ts (so defaults apply exactly as at the host boundary).
import type { DomainChange } from '../events/changes.ts';
import { parseAttemptEvent, parseRunEvent, type AttemptEventInput, type RunEventInput } from '../events/run-events.ts';
import type { TaskSpecInput } from '../events/workflow.ts';
import type { Effect } from '../machines/effects.ts';
import { getTask, tasksInOrder, type RunContext } from '../machines/run-context.ts';
import { deliver, emptySystem, payloadOf, type LoggedEvent, type Processed, type RunSystem } from '../machines/system.ts';

export interface HarnessOptions {
  maxConcurrent?: number | null;
  operatorCaps?: Record<string, number | null>;
  configuredOperators?: string[];
  envOperator?: string;
  defaultOperator?: string;
}

export class Harness {
  system: RunSystem = emptySystem();
  processed: Processed[] = [];
  effects: { actor: string; effect: Effect }[] = [];
  last: Processed[] = [];

  constructor(options: HarnessOptions = {}) {
    this.run({
      type: 'RUN.CREATED',
      workspace: 'ws',
      configuredOperators: options.configuredOperators ?? ['local.default', 'human.default', 'experiment.default', 'hpc.default'],
      ...(options.maxConcurrent !== undefined ? { maxConcurrent: options.maxConcurrent } : {}),
      ...(options.operatorCaps !== undefined ? { operatorCaps: options.operatorCaps } : {}),
      ...(options.envOperator !== undefined ? { envOperator: options.envOperator } : {}),
      ...(options.defaultOperator !== undefined ? { defaultOperator: options.defaultOperator } : {}),
    });
  }

  run(event: RunEventInput): Processed[] {
    return this.send('run', parseRunEvent(event));
  }

  attempt(attemptId: string, event: AttemptEventInput): Processed[] {
    return this.send(attemptId, parseAttemptEvent(event));
  }

  private send(actor: string, event: ReturnType<typeof parseRunEvent> | ReturnType<typeof parseAttemptEvent>): Processed[] {
    const out = deliver(this.system, actor, event);
    this.system = out.system;
    this.processed.push(...out.processed);
    this.effects.push(...out.effects);
    this.last = out.processed;
    return out.processed;
  }

  plan(tasks: TaskSpecInput[] | null, iteration = 0, state: unknown = null): Processed[] {
    return this.run({ type: 'CAMPAIGN.PLANNED', iteration, workflow: tasks === null ? null : { tasks }, state: state as null });
  }

  step(): Processed[] {
    return this.run({ type: 'RUN.STEP' });
  }

  /** The operator accepted and started the attempt. */
  start(attemptId: string, status: 'RUNNING' | 'WAITING_EXTERNAL' | 'SUBMITTED' = 'RUNNING'): Processed[] {
    return this.attempt(attemptId, { type: 'ATTEMPT.SUBMITTED', externalId: `ext-${attemptId}`, status });
  }

  /** The operator reports the end, then results are collected. */
  finish(attemptId: string, status: 'COMPLETED' | 'FAILED' = 'COMPLETED', reason?: string): Processed[] {
    const first = this.attempt(attemptId, { type: 'OPERATOR.REPORTED', status, ...(reason ? { reason } : {}) });
    return [...first, ...this.attempt(attemptId, { type: 'ATTEMPT.RESULTS', files: {} })];
  }

  /** Starts and completes (or fails) an attempt. */
  complete(attemptId: string, status: 'COMPLETED' | 'FAILED' = 'COMPLETED'): void {
    this.start(attemptId);
    this.finish(attemptId, status);
  }

  get ctx(): RunContext {
    if (this.system.run === undefined) throw new Error('no run');
    return this.system.run.context;
  }

  get value(): unknown {
    return this.system.run?.value;
  }

  task(id: string) {
    const entry = getTask(this.ctx, id);
    if (entry === undefined) throw new Error(`no task ${id}`);
    return entry;
  }

  status(id: string): string {
    return this.task(id).status;
  }

  active(): string[] {
    return Object.keys(this.ctx.active).sort();
  }

  allStatuses(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const entry of tasksInOrder(this.ctx)) out[entry.spec.id] = entry.status;
    return out;
  }

  /** Changes of the last delivery, all actors. */
  lastChanges(): DomainChange[] {
    return this.last.flatMap((p) => p.decision.changes);
  }

  commandChanges(): Extract<DomainChange, { kind: 'command' }>[] {
    return this.lastChanges().filter((c): c is Extract<DomainChange, { kind: 'command' }> => c.kind === 'command');
  }

  lastEffects(): Effect[] {
    return this.last.flatMap((p) => p.decision.effects);
  }

  /** The log as the host would write it. */
  log(): LoggedEvent[] {
    return this.processed.map((p) => ({ actor: p.actor, type: p.event.type, payload: payloadOf(p.event) }));
  }
}

/** Moves one attempt actor one step forward, the way its operator would. */
export function operate(h: Harness, attemptId: string, outcome: 'COMPLETED' | 'FAILED' | 'WAITING_EXTERNAL'): void {
  const snap = h.system.attempts.get(attemptId);
  if (snap === undefined) return;
  const phase = typeof snap.value === 'string' ? snap.value : Object.keys(snap.value)[0];
  if (phase === 'created') h.start(attemptId, outcome === 'WAITING_EXTERNAL' ? 'WAITING_EXTERNAL' : 'RUNNING');
  else if (phase === 'running' || phase === 'waiting_external' || phase === 'submitted') {
    h.attempt(attemptId, { type: 'OPERATOR.REPORTED', status: outcome === 'WAITING_EXTERNAL' ? 'RUNNING' : outcome });
  } else if (phase === 'completed' || phase === 'failed') h.attempt(attemptId, { type: 'ATTEMPT.RESULTS', files: {} });
  else if (phase === 'cancelling') h.attempt(attemptId, { type: 'ATTEMPT.CANCELLED' });
}

/** Operates the busy attempt `pick` selects among the first `among` busy ones (all by default); nothing when none is busy. */
export function operateBusy(h: Harness, pick: number, outcome: 'COMPLETED' | 'FAILED' | 'WAITING_EXTERNAL', among = Infinity): void {
  const busy = busyAttempts(h);
  if (busy.length > 0) operate(h, busy[pick % Math.min(busy.length, among)]!, outcome);
}

/** Attempt actors that still have something to do (including collecting and cancelling). */
export function busyAttempts(h: Harness): string[] {
  const done = new Set(['failed_init', 'cancelled', JSON.stringify({ completed: 'collected' }), JSON.stringify({ failed: 'collected' })]);
  return [...h.system.attempts.entries()]
    .filter(([, s]) => !done.has(typeof s.value === 'string' ? s.value : JSON.stringify(s.value)))
    .map(([id]) => id)
    .sort();
}

/** The run commands the property tests send. */
export type CommandVerb = 'pause' | 'resume' | 'cancel' | 'revive' | 'rerun' | 'rerun-r' | 'cancel-attempt';

/** Sends command `verb` to the run, aimed at the task and attempt `pick` selects. */
export function sendCommand(h: Harness, verb: CommandVerb, pick: number, taskIds: readonly string[]): void {
  const taskId = taskIds[pick % taskIds.length]!;
  const attempts = [...h.system.attempts.keys()].sort();
  const attemptId = attempts.length > 0 ? attempts[pick % attempts.length]! : 'none-a1';
  const events = {
    pause: { type: 'CMD.PAUSE' },
    resume: { type: 'CMD.RESUME' },
    cancel: { type: 'CMD.CANCEL' },
    revive: { type: 'CMD.REVIVE' },
    rerun: { type: 'CMD.RERUN', taskId },
    'rerun-r': { type: 'CMD.RERUN', taskId, recursive: true },
    'cancel-attempt': { type: 'CMD.CANCEL_ATTEMPT', attemptId },
  } as const;
  h.run(events[verb]);
}

/** One random action of the property tests: a cycle, an operator's step, a command, or the campaign's answer. */
export type Action =
  | { kind: 'step' }
  | { kind: 'operator'; pick: number; outcome: 'COMPLETED' | 'FAILED' | 'WAITING_EXTERNAL' }
  | { kind: 'command'; verb: CommandVerb; pick: number }
  | { kind: 'campaign' };

/** Plays one action; `campaign` answers the campaign action (each test plans its own way). */
export function playAction(h: Harness, action: Action, taskIds: readonly string[], campaign: () => void): void {
  switch (action.kind) {
    case 'step':
      h.step();
      return;
    case 'operator':
      operateBusy(h, action.pick, action.outcome);
      return;
    case 'campaign':
      campaign();
      return;
    case 'command':
      sendCommand(h, action.verb, action.pick, taskIds);
  }
}
