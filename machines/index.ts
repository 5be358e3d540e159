// The public surface of machines/: the deciders, the system helpers and the types they share.
export { decideAttempt, decideRun } from './decide.ts';
export type { AttemptDecision, AttemptSnapshot, Decision, RunDecision, RunSnapshot } from './decide.ts';
export { EFFECT_TYPES } from './effects.ts';
export type { AnalyzeResult, Effect, EffectType } from './effects.ts';
export type { CommandOutcome, Message } from './outgoing.ts';
export { applyEvent, deliver, emptySystem, payloadOf, replay } from './system.ts';
export type { LoggedEvent, Processed, ReplayStep, RunSystem } from './system.ts';
export { runMachine } from './run.machine.ts';
export { attemptMachine } from './attempt.machine.ts';
export type { RunContext, TaskEntry } from './run-context.ts';
export { getTask, tasksInOrder } from './run-context.ts';
