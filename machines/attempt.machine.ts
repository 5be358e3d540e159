import { assign, emit, enqueueActions, setup } from 'xstate';
import type { JsonObject, JsonValue } from '../events/json.ts';
import { collectedOutcomeOf, issuerText, type AttemptCreated, type AttemptEvent } from '../events/run-events.ts';
import type { AttemptStatus } from '../events/statuses.ts';
import type { TaskSpec } from '../events/workflow.ts';
import type { Outgoing } from './outgoing.ts';
import { requireInput } from './machine-input.ts';

/** An attempt actor's own state: everything the run does not need to schedule. */
export interface AttemptContext {
  attemptId: string;
  taskId: string;
  operatorKey: string;
  task: TaskSpec;
  status: AttemptStatus;
  reason?: string;
  initError?: string;
  externalId?: string;
  operatorData?: JsonObject;
  dir?: string;
  files?: Record<string, string>;
  data?: JsonValue;
  collectError?: string;
  /** A gate's decision as the run routed it: its data becomes the attempt's result data. */
  decision?: AttemptDecisionRecord;
}

/** An approve or reject as the gate attempt keeps it (and the log and views show it). */
export interface AttemptDecisionRecord {
  verb: 'approved' | 'rejected';
  /** The issuer's claim (`--by`, $USER); in records older than `principal`, the issuer as text (`alice (as scientist)`). */
  by?: string;
  /** Who was authenticated: the NATS user, or the OS account on the embedded log. */
  principal?: string;
  comment?: string;
  data?: JsonValue;
}

type Reportable = Exclude<AttemptStatus, 'CREATED'>;
const reasonOf = (event: AttemptEvent): string | undefined => {
  if (event.type === 'ATTEMPT.REJECT') {
    const issuer = issuerText(event.by, event.principal);
    return event.comment ?? (issuer !== undefined ? `rejected by ${issuer}` : 'rejected');
  }
  // Results that cannot be taken fail a completed attempt with their own reason.
  if (event.type === 'OPERATOR.REPORTED' && event.status === 'COMPLETED' && event.results?.type === 'ATTEMPT.RESULTS_INVALID') return event.results.reason;
  if ('reason' in event) return event.reason;
  return undefined;
};

/**
 * A report that ends the attempt with its results already collected goes straight to `collected`
 * (one transition, no collect effect); results that cannot be taken fail a completed attempt.
 */
const ENDED_COLLECTED = [
  { guard: { type: 'endedCollected' as const, params: { status: 'COMPLETED' as const, invalid: true } }, target: '#attempt.failed.collected' as const, actions: 'recordResults' as const },
  { guard: { type: 'endedCollected' as const, params: { status: 'COMPLETED' as const, invalid: false } }, target: '#attempt.completed.collected' as const, actions: 'recordResults' as const },
  { guard: { type: 'endedCollected' as const, params: { status: 'FAILED' as const } }, target: '#attempt.failed.collected' as const, actions: 'recordResults' as const },
];

const OPERATOR_TARGETS = [
  ['SUBMITTED', 'submitted'],
  ['RUNNING', 'running'],
  ['WAITING_EXTERNAL', 'waiting_external'],
  ['COMPLETED', 'completed'],
  ['FAILED', 'failed'],
  ['CANCELLED', 'cancelled'],
] as const;

/** Transitions of the three active states; a report of the state's own status is no change (no re-entry). */
function activeOn(self: 'submitted' | 'running' | 'waiting_external') {
  return {
    'OPERATOR.REPORTED': [
      ...ENDED_COLLECTED,
      ...OPERATOR_TARGETS.filter(([, target]) => target !== self).map(([status, target]) => ({
        guard: { type: 'reportedAs' as const, params: { status } },
        target,
      })),
    ],
    'ATTEMPT.CANCEL': { target: 'cancelling' as const },
    'ATTEMPT.APPROVE': { guard: 'isGate' as const, target: 'completed' as const, actions: 'recordDecision' as const },
    'ATTEMPT.REJECT': { guard: 'isGate' as const, target: 'failed' as const, actions: 'recordDecision' as const },
  };
}

/**
 * completed / failed: set the status, collect, then report to the run once collected. Results that
 * cannot be taken fail a completed attempt with their reason; a failed one keeps its own.
 */
function collectingState(status: 'COMPLETED' | 'FAILED') {
  return {
    initial: 'collecting' as const,
    entry: { type: 'setStatus' as const, params: { status } },
    states: {
      collecting: {
        entry: 'collect' as const,
        on: {
          'ATTEMPT.RESULTS': { target: 'collected' as const, actions: 'recordResults' as const },
          'ATTEMPT.RESULTS_INVALID': {
            target: status === 'COMPLETED' ? ('#attempt.failed.collected' as const) : ('collected' as const),
            actions: 'recordResults' as const,
          },
          'ATTEMPT.COLLECT_FAILED': { target: 'collected' as const, actions: 'recordResults' as const },
        },
      },
      collected: { entry: 'report' as const },
    },
  };
}

/**
 * One attempt: created → submitted → running | waiting_external → completed | failed | cancelled,
 * failed_init when preparing/submitting fails before the operator accepted the work.
 * completed and failed first collect results (SPEC §2: on COMPLETED and FAILED) and report to the
 * run only once collected, so the campaign's `analyze` always sees them. Cancel goes through
 * `cancelling` (the operator confirms with ATTEMPT.CANCELLED, or reports the end it reached first).
 * Pure: effects and the reports to the run are `emit`ted and routed by the host.
 */
export const attemptMachine = setup({
  types: {
    context: {} as AttemptContext,
    events: {} as AttemptEvent,
    input: {} as AttemptCreated,
    emitted: {} as Outgoing,
  },
  guards: {
    bornFailed: ({ context }) => context.initError !== undefined,
    submittedAs: ({ event }, params: { status: AttemptStatus }) => event.type === 'ATTEMPT.SUBMITTED' && event.status === params.status,
    reportedAs: ({ event }, params: { status: AttemptStatus }) => event.type === 'OPERATOR.REPORTED' && event.status === params.status,
    endedCollected: ({ event }, params: { status: 'COMPLETED' | 'FAILED'; invalid?: boolean }) =>
      event.type === 'OPERATOR.REPORTED' &&
      event.status === params.status &&
      event.results !== undefined &&
      (params.invalid === undefined || (event.results.type === 'ATTEMPT.RESULTS_INVALID') === params.invalid),
    isGate: ({ context }) => context.task.kind === 'gate',
  },
  actions: {
    setStatus: assign(({ context, event }, params: { status: AttemptStatus }) => {
      const reason = params.status === 'FAILED_INIT' && context.initError !== undefined ? context.initError : reasonOf(event);
      const next: AttemptContext = { ...context, status: params.status };
      if (reason !== undefined) next.reason = reason;
      return next;
    }),
    recordSubmission: assign(({ context, event }) => {
      if (event.type !== 'ATTEMPT.SUBMITTED') return context;
      const next: AttemptContext = { ...context, externalId: event.externalId };
      if (event.operatorData !== undefined) next.operatorData = event.operatorData;
      if (event.dir !== undefined) next.dir = event.dir;
      return next;
    }),
    recordDecision: assign(({ context, event }) => {
      if (event.type !== 'ATTEMPT.APPROVE' && event.type !== 'ATTEMPT.REJECT') return context;
      const decision: AttemptDecisionRecord = { verb: event.type === 'ATTEMPT.APPROVE' ? 'approved' : 'rejected' };
      if (event.by !== undefined) decision.by = event.by;
      if (event.principal !== undefined) decision.principal = event.principal;
      if (event.comment !== undefined) decision.comment = event.comment;
      if (event.data !== undefined) decision.data = event.data;
      return { ...context, decision };
    }),
    recordResults: assign(({ context, event }) => {
      const outcome = collectedOutcomeOf(event);
      if (outcome?.type === 'ATTEMPT.RESULTS') {
        // The approver's data is the gate's result; what the operator collected only fills in when there is none.
        const data = context.decision?.data ?? outcome.data;
        return { ...context, files: outcome.files, ...(data !== undefined ? { data } : {}) };
      }
      if (outcome?.type === 'ATTEMPT.RESULTS_INVALID') return { ...context, files: outcome.files, collectError: outcome.reason };
      if (outcome?.type === 'ATTEMPT.COLLECT_FAILED') return { ...context, collectError: outcome.reason };
      return context;
    }),
    report: emit(({ context }) => ({
      type: 'message' as const,
      message: {
        to: 'run',
        event: {
          type: 'ATTEMPT.REPORTED' as const,
          attemptId: context.attemptId,
          taskId: context.taskId,
          status: context.status as Reportable,
          ...(context.reason !== undefined ? { reason: context.reason } : {}),
        },
      },
    })),
    // An attempt born failed never starts: it passes through `created` on its way to failed_init.
    start: enqueueActions(({ context, enqueue }) => {
      if (context.initError !== undefined) return;
      enqueue.emit({
        type: 'effect',
        effect: { type: 'attempt.start', attemptId: context.attemptId, taskId: context.taskId, operatorKey: context.operatorKey, task: context.task },
      });
    }),
    watch: emit(({ context }) => ({
      type: 'effect' as const,
      effect: { type: 'attempt.watch' as const, attemptId: context.attemptId, operatorKey: context.operatorKey, externalId: context.externalId ?? '' },
    })),
    collect: emit(({ context }) => ({
      type: 'effect' as const,
      effect: { type: 'attempt.collect' as const, attemptId: context.attemptId, operatorKey: context.operatorKey },
    })),
    cancel: emit(({ context }) => ({
      type: 'effect' as const,
      effect: { type: 'attempt.cancel' as const, attemptId: context.attemptId, operatorKey: context.operatorKey },
    })),
  },
}).createMachine({
  id: 'attempt',
  context: ({ input: given }) => {
    const input = requireInput(given);
    return {
      attemptId: input.attemptId,
      taskId: input.taskId,
      operatorKey: input.operatorKey,
      task: input.task,
      status: 'CREATED',
      ...(input.initError !== undefined ? { initError: input.initError } : {}),
    };
  },
  // Born failed (initError) is decided by `created`'s eventless transition rather than by a state
  // of its own before it: one microstep less for every attempt created.
  initial: 'created',
  states: {
    created: {
      entry: 'start',
      always: { guard: 'bornFailed', target: 'failed_init' },
      on: {
        'ATTEMPT.SUBMITTED': [
          { guard: { type: 'submittedAs', params: { status: 'RUNNING' } }, target: 'running', actions: ['recordSubmission', 'watch'] },
          { guard: { type: 'submittedAs', params: { status: 'WAITING_EXTERNAL' } }, target: 'waiting_external', actions: ['recordSubmission', 'watch'] },
          { target: 'submitted', actions: ['recordSubmission', 'watch'] },
        ],
        'ATTEMPT.SUBMIT_FAILED': 'failed_init',
        // The start effect may be in flight: cancel through the operator too (idempotent by attempt id).
        'ATTEMPT.CANCEL': { target: 'cancelled', actions: 'cancel' },
      },
    },
    submitted: { entry: [{ type: 'setStatus', params: { status: 'SUBMITTED' } }, 'report'], on: activeOn('submitted') },
    running: { entry: [{ type: 'setStatus', params: { status: 'RUNNING' } }, 'report'], on: activeOn('running') },
    waiting_external: {
      entry: [{ type: 'setStatus', params: { status: 'WAITING_EXTERNAL' } }, 'report'],
      on: activeOn('waiting_external'),
    },
    cancelling: {
      entry: 'cancel',
      on: {
        'ATTEMPT.CANCELLED': 'cancelled',
        'OPERATOR.REPORTED': [
          ...ENDED_COLLECTED,
          { guard: { type: 'reportedAs', params: { status: 'COMPLETED' } }, target: 'completed' },
          { guard: { type: 'reportedAs', params: { status: 'FAILED' } }, target: 'failed' },
          { guard: { type: 'reportedAs', params: { status: 'CANCELLED' } }, target: 'cancelled' },
        ],
      },
    },
    completed: collectingState('COMPLETED'),
    failed: collectingState('FAILED'),
    failed_init: { entry: [{ type: 'setStatus', params: { status: 'FAILED_INIT' } }, 'report'] },
    cancelled: { entry: [{ type: 'setStatus', params: { status: 'CANCELLED' } }, 'report'] },
  },
});

export type AttemptMachine = typeof attemptMachine;
