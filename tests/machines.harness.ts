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
