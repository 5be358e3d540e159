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
 * What the machines `emit`: the decider collects what an actor emits during one step
 * (machines/actor-stepper.ts) instead of the machines sending to each other (DESIGN: `sendParent`
 * throws in a child stepped alone).
 */
export type Outgoing =
  | { type: 'message'; message: Message }
  | { type: 'effect'; effect: Effect }
  | { type: 'command'; outcome: CommandOutcome };
