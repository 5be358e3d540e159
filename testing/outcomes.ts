import fc from 'fast-check';
import type { JsonValue } from '../events/json.ts';
import type { TaskSpec } from '../events/workflow.ts';

/**
 * What the simulated world may do, as fast-check arbitraries. Each shrinks towards the quiet
 * default (an attempt completes, a gate is approved, no command), so a failing scenario shrinks
 * to the few events that matter.
 */

/** Draws one value of `arbitrary` for the scenario being run (fast-check's `gen`, or a replay of one). */
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

export const COMPUTE_OUTCOME: fc.Arbitrary<ComputeOutcome> = fc.oneof(
  { withCrossShrink: true },
  { weight: 12, arbitrary: fc.constant({ kind: 'completed' } as const) },
  { weight: 2, arbitrary: exitCode.map((code) => ({ kind: 'failed', exitCode: code }) as const) },
  { weight: 1, arbitrary: fc.constant({ kind: 'timeout' } as const) },
  { weight: 1, arbitrary: fc.constant({ kind: 'lost' } as const) },
);

export const GATE_OUTCOME: fc.Arbitrary<GateOutcome> = fc.oneof(
  { withCrossShrink: true },
  { weight: 6, arbitrary: fc.constant({ kind: 'approve' } as const) },
  { weight: 2, arbitrary: fc.constant({ kind: 'reject' } as const) },
  { weight: 1, arbitrary: fc.constant({ kind: 'wait' } as const) },
);

export const EXTERNAL_OUTCOME: fc.Arbitrary<ExternalOutcome> = fc.oneof(
  { withCrossShrink: true },
  { weight: 6, arbitrary: fc.constant({ kind: 'respond' } as const) },
  { weight: 1, arbitrary: exitCode.map((code) => ({ kind: 'failed', exitCode: code }) as const) },
);

export const COMMAND: fc.Arbitrary<CommandChoice | null> = fc.option(
  fc.record({ verb: fc.constantFrom('pause', 'resume', 'cancel-attempt', 'rerun', 'cancel'), pick: fc.nat({ max: 1000 }) }),
  { freq: 8 },
);

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
