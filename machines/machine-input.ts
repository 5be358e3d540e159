/**
 * XState's pure `transition()` builds a throw-away actor per call, and that actor's constructor
 * computes the machine's initial snapshot without input (then discards it). Our machines need
 * their creation event as input: refusing at once with one prebuilt error keeps that wasted work
 * to a throw, where a TypeError from reading `undefined` would capture a stack trace every time.
 */
const NO_INPUT = new Error('a MatterStack machine is created from its creation event (input); none was given');

/** The machine's input, or the prebuilt refusal when XState computes an initial snapshot without one. */
export function requireInput<T>(input: T | undefined): T {
  if (input === undefined) throw NO_INPUT;
  return input;
}
