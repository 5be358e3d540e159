import type { AttemptEvent, RunEvent } from '../events/run-events.ts';
import type { Effect } from './effects.ts';

/** A message one actor sends another; the host (or `deliver`) routes it. `to` is 'run' or an attempt id. */
export interface Message {
  to: string;
  event: RunEvent | AttemptEvent;
}

/** The outcome of a command, turned into a `command` change by the decider. */
export interface CommandOutcome {
  verb: string;
  accepted: boolean;
  code?: string;
  reason?: string;
  target?: string;
  by?: string;
  principal?: string;
}

/**
 * What the machines `emit`: XState returns emits as `xstate.emit` actions from the pure
 * `transition()`, without executing anything, so the decider collects them (DESIGN: `sendParent`
 * throws in a child transitioned alone).
 */
export type Outgoing =
  | { type: 'message'; message: Message }
  | { type: 'effect'; effect: Effect }
  | { type: 'command'; outcome: CommandOutcome };
