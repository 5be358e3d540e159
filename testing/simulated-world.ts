import type { JsonValue } from '../events/json.ts';
import type { RunCommand } from '../events/run-events.ts';
import type { TaskSpec } from '../events/workflow.ts';
import { isWatchable } from '../machines/attempt-phase.ts';
import type { RunSystem } from '../machines/system.ts';
import type { CollectedResults, Operator, OperatorContext, PollResult, SubmitResult } from '../operators/operator.ts';
import type { OperatorFactory } from '../operators/operator-registry.ts';
import { OPERATOR_KINDS } from '../workspace/operators-config.ts';
import { describeCompute, type AttemptFate, type Choose, type ComputeOutcome, type ResultsArbitrary } from './outcomes.ts';

/** What the world decided for an attempt: how the operator reports it, and the data it collects. */
interface Decided {
  poll: PollResult;
  data?: JsonValue;
}

/** What the world does, beside reporting attempts: gate decisions are commands a person sends. */
export interface WorldOptions {
  /** The attempts that fail or wait (by creation order); the others complete or are approved. */
  fates: readonly AttemptFate[];
  choose: Choose;
  results?: ResultsArbitrary;
  /** The data a gate is approved (or rejected) with; none when undefined. */
  gateData?: ResultsArbitrary;
  /** Adds one line to the scenario's story. */
  tell: (line: string) => void;
}

const isGate = (task: TaskSpec): boolean => task.kind === 'gate';
const isExternal = (task: TaskSpec): boolean => task.kind === 'external';

/**
 * The world a scenario runs in: every operator is scripted, and fast-check chooses how each
 * attempt ends the first time the run polls it. No process, job, file or clock is involved.
 */
export class SimulatedWorld {
  private readonly options: WorldOptions;
  private readonly decided = new Map<string, Decided>();
  /** Attempts decided so far: the next one's place in creation order. */
  private seen = 0;
  /** Gates a person leaves waiting for the rest of the scenario. */
  readonly waitingGates = new Set<string>();

  constructor(options: WorldOptions) {
    this.options = options;
  }

  /** An operator factory per kind, all backed by this world. */
  factories(): Record<string, OperatorFactory> {
    const factories: Record<string, OperatorFactory> = {};
    for (const kind of OPERATOR_KINDS) factories[kind] = () => new ScriptedOperator(kind, this);
    return factories;
  }

  /**
   * Chooses how every attempt the operators hold and the world has not decided yet ends, in the
   * order the run created them; gate decisions come back as the commands a person would send.
   */
  decide(system: RunSystem): RunCommand[] {
    const commands: RunCommand[] = [];
    for (const [attemptId, snapshot] of system.attempts) {
      if (!isWatchable(snapshot) || this.decided.has(attemptId) || this.waitingGates.has(attemptId)) continue;
      const { task, taskId } = snapshot.context;
      const at = this.seen;
      this.seen += 1;
      const fate = this.options.fates.find((candidate) => candidate.at === at);
      if (isGate(task)) {
        const command = this.decideGate(attemptId, task, fate?.gate.kind ?? 'approve');
        if (command !== undefined) commands.push(command);
      } else if (isExternal(task)) {
        if (fate !== undefined) this.settle(attemptId, taskId, fate.external);
        else this.complete(attemptId, taskId, task, 'responded');
      } else {
        if (fate !== undefined) this.settle(attemptId, taskId, fate.compute);
        else this.complete(attemptId, taskId, task, 'COMPLETED');
      }
    }
    return commands;
  }

  private decideGate(attemptId: string, task: TaskSpec, kind: 'approve' | 'reject' | 'wait'): RunCommand | undefined {
    if (kind === 'wait') {
      this.waitingGates.add(attemptId);
      this.options.tell(`${task.id} left waiting for a person`);
      return undefined;
    }
    const data = this.draw(this.options.gateData, task);
    const type = kind === 'approve' ? 'CMD.APPROVE' : 'CMD.REJECT';
    this.decided.set(attemptId, { poll: { status: 'WAITING_EXTERNAL' } });
    return { type, taskId: task.id, by: 'matterstack check', ...(data !== undefined ? { data } : {}) };
  }

  private complete(attemptId: string, taskId: string, task: TaskSpec, word: string): void {
    const data = this.draw(this.options.results, task);
    this.decided.set(attemptId, { poll: { status: 'COMPLETED' }, ...(data !== undefined ? { data } : {}) });
    if (data !== undefined && word !== 'COMPLETED') this.options.tell(`${taskId} ${word} ${JSON.stringify(data)}`);
  }

  private settle(attemptId: string, taskId: string, outcome: Exclude<ComputeOutcome, { kind: 'completed' }>): void {
    this.decided.set(attemptId, { poll: { status: 'FAILED', reason: failureReason(outcome) } });
    this.options.tell(`${taskId} ${describeCompute(outcome)}`);
  }

  private draw(source: ResultsArbitrary | undefined, task: TaskSpec): JsonValue | undefined {
    const arbitrary = source?.(task);
    return arbitrary === undefined ? undefined : this.options.choose(arbitrary);
  }

  /** The status the operator reports for an attempt: its decided end, else still held. */
  poll(ctx: OperatorContext): PollResult {
    const decided = this.decided.get(ctx.attempt.attemptId);
    if (decided !== undefined) return decided.poll;
    return { status: isGate(ctx.task) || isExternal(ctx.task) ? 'WAITING_EXTERNAL' : 'RUNNING' };
  }

  /** What the operator collects for an attempt: the data drawn when it completed. */
  collect(ctx: OperatorContext): CollectedResults {
    const data = this.decided.get(ctx.attempt.attemptId)?.data;
    return { files: {}, ...(data !== undefined ? { data } : {}) };
  }
}

/** The reason an operator gives for a failure, worded as the real ones do (retryOn matches it). */
function failureReason(outcome: Exclude<ComputeOutcome, { kind: 'completed' }>): string {
  switch (outcome.kind) {
    case 'failed':
      return `exit code ${outcome.exitCode}`;
    case 'timeout':
      return 'time limit exceeded (simulated)';
    case 'lost':
      return 'lost: the simulated process is gone without an exit code';
  }
}

/** An operator whose attempts end as the simulated world decides. */
class ScriptedOperator implements Operator {
  readonly kind: string;
  private readonly world: SimulatedWorld;

  constructor(kind: string, world: SimulatedWorld) {
    this.kind = kind;
    this.world = world;
  }

  async prepare(): Promise<void> {}

  async submit(ctx: OperatorContext): Promise<SubmitResult> {
    const status = ctx.task.kind === 'gate' || ctx.task.kind === 'external' ? 'WAITING_EXTERNAL' : 'RUNNING';
    return { externalId: `sim:${ctx.attempt.attemptId}`, status };
  }

  async poll(ctx: OperatorContext): Promise<PollResult> {
    return this.world.poll(ctx);
  }

  async collectResults(ctx: OperatorContext): Promise<CollectedResults> {
    return this.world.collect(ctx);
  }

  async cancel(): Promise<PollResult> {
    return { status: 'CANCELLED', reason: 'cancelled' };
  }
}
