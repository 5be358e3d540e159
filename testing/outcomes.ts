import fc from 'fast-check';
import type { JsonValue } from '../events/json.ts';
import type { TaskSpec } from '../events/workflow.ts';

/**
 * What the simulated world may do, as fast-check arbitraries. Each shrinks towards the quiet
 * default (an attempt completes, a gate is approved, no command), so a failing scenario shrinks
 * to the few events that matter.
 */

/** Draws one value of `arbitrary` for the scenario being run (fast-check's `gen`): the data tasks report and gates are decided with. */
export type Choose = <T>(arbitrary: fc.Arbitrary<T>) => T;

/** How a compute attempt ends. */
export type ComputeOutcome = { kind: 'completed' } | { kind: 'failed'; exitCode: number } | { kind: 'timeout' } | { kind: 'lost' };

/** How a person answers a gate: approve (with the data drawn for it), reject, or leave it waiting. */
export type GateOutcome = { kind: 'approve' } | { kind: 'reject' } | { kind: 'wait' };

/** How an outside agent answers an external task: a response (COMPLETED with data) or a failure. */
export type ExternalOutcome = { kind: 'respond' } | { kind: 'failed'; exitCode: number };

/** A command a person sends between cycles; `pick` chooses its target among those it may have. */
export type CommandChoice = { verb: 'pause' | 'resume' | 'cancel-attempt' | 'rerun' | 'cancel'; pick: number };

/** Result data per task: the user's arbitrary for it, or undefined for none. */
export type ResultsArbitrary = (task: TaskSpec) => fc.Arbitrary<JsonValue> | undefined;

const exitCode = fc.integer({ min: 1, max: 255 });

/** How a compute attempt fails, when its fate says it does. */
const COMPUTE_FAILURE: fc.Arbitrary<Exclude<ComputeOutcome, { kind: 'completed' }>> = fc.oneof(
  { withCrossShrink: true },
  exitCode.map((code) => ({ kind: 'failed', exitCode: code }) as const),
  fc.constant({ kind: 'timeout' } as const),
  fc.constant({ kind: 'lost' } as const),
);

/**
 * The attempts that do not go quietly: the `at`-th attempt the run creates (in creation order)
 * ends as `compute` says when it is a compute task, as `gate` when a gate, as `external` when an
 * external task. Every other attempt completes, every other gate is approved.
 */
export interface AttemptFate {
  at: number;
  compute: Exclude<ComputeOutcome, { kind: 'completed' }>;
  gate: Exclude<GateOutcome, { kind: 'approve' }>;
  external: Extract<ExternalOutcome, { kind: 'failed' }>;
}

/** A command sent before cycle `cycle`. */
export interface TimedCommand extends CommandChoice {
  cycle: number;
}

/** A scenario: the attempts that fail or wait, and the commands people send. Shrinks towards none of either. */
export interface ScenarioScript {
  fates: AttemptFate[];
  commands: TimedCommand[];
}

/** Attempts and cycles a script refers to, at most (later ones go quietly). */
export const SCRIPT_ATTEMPTS = 40;
export const SCRIPT_CYCLES = 20;

export const SCENARIO_SCRIPT: fc.Arbitrary<ScenarioScript> = fc.record({
  fates: fc.array(
    fc.record({
      // Mostly the first attempts: a small run's bugs show there, and shrinking moves towards them anyway.
      at: fc.oneof(fc.nat({ max: 4 }), fc.nat({ max: SCRIPT_ATTEMPTS - 1 })),
      compute: COMPUTE_FAILURE,
      gate: fc.oneof({ weight: 2, arbitrary: fc.constant({ kind: 'reject' } as const) }, { weight: 1, arbitrary: fc.constant({ kind: 'wait' } as const) }),
      external: exitCode.map((code) => ({ kind: 'failed', exitCode: code }) as const),
    }),
    { maxLength: 8 },
  ),
  commands: fc.array(
    fc.record({
      cycle: fc.nat({ max: SCRIPT_CYCLES - 1 }),
      verb: fc.constantFrom('pause', 'resume', 'cancel-attempt', 'rerun', 'cancel'),
      pick: fc.nat({ max: 1000 }),
    }),
    { maxLength: 4 },
  ),
});

/** The text a scenario's story gives a compute outcome. */
export function describeCompute(outcome: ComputeOutcome): string {
  switch (outcome.kind) {
    case 'completed':
      return 'COMPLETED';
    case 'failed':
      return `FAILED (exit ${outcome.exitCode})`;
    case 'timeout':
      return 'FAILED (TIMEOUT)';
    case 'lost':
      return 'FAILED (lost)';
  }
}
