import { and, assign, emit, enqueueActions, setup } from 'xstate';
import type { RunCommand, RunCreated, RunEvent } from '../events/run-events.ts';
import type { RunStatus } from '../events/statuses.ts';
import type { Outgoing } from './outgoing.ts';
import {
  adoptPlan,
  anyCurrentReport,
  applyCommand,
  applyDispatch,
  applySkips,
  creationMessage,
  initialRunContext,
  isCurrentReport,
  trackReport,
  trackReports,
  withStatus,
} from './run-actions.ts';
import type { RunContext } from './run-context.ts';
import { requireInput } from './machine-input.ts';
import { checkCommand, commandTarget, commandVerb } from './rules/commands.ts';
import { planDispatch } from './rules/dispatch.ts';
import { analyzeResults, cycleOutcome } from './rules/outcome.ts';
import { iterationLimitReason } from './rules/iteration-limit.ts';
import { checkWorkflow } from './rules/workflow-check.ts';

const isCommand = (event: RunEvent): event is RunCommand => event.type.startsWith('CMD.');
const byOf = (cmd: RunCommand): { by?: string; principal?: string } => ({
  ...(cmd.by !== undefined ? { by: cmd.by } : {}),
  ...(cmd.principal !== undefined ? { principal: cmd.principal } : {}),
});
const targetOf = (cmd: RunCommand): { target?: string } => {
  const target = commandTarget(cmd);
  return target !== undefined ? { target } : {};
};

/**
 * The life of a run. One cycle (RUN.STEP) passes poll → plan → execute → analyze (the entry actions of
 * `poll`) and rests in `waiting` (or `analyze.awaitingCampaign` while the campaign plans).
 * Attempt reports and commands are handled in every state, so nothing is lost while paused, and
 * reports only update task entries: 1,000 reports then one RUN.STEP make one pass through the phases.
 * Reports that arrive together come as one ATTEMPTS.REPORTED, applied as one ATTEMPT.REPORTED each.
 * completed/failed/cancelled are terminal run statuses but not XState final states: rerun and
 * revive leave them, and reports of attempts still being cancelled keep being tracked.
 * Pure: effects and messages are `emit`ted and collected by machines/decide.ts.
 */
export const runMachine = setup({
  types: {
    context: {} as RunContext,
    events: {} as RunEvent,
    input: {} as RunCreated,
    emitted: {} as Outgoing,
  },
  guards: {
    planExpected: ({ context, event }) => event.type === 'CAMPAIGN.PLANNED' && context.awaitingPlan === event.iteration,
    planIsFinal: ({ event }) => event.type === 'CAMPAIGN.PLANNED' && event.workflow === null,
    planIsInvalid: ({ context, event }) =>
      event.type === 'CAMPAIGN.PLANNED' && event.workflow !== null && checkWorkflow(context, event.workflow.tasks) !== null,
    planBeyondLimit: ({ context, event }) => event.type === 'CAMPAIGN.PLANNED' && iterationLimitReason(context, event) !== null,
    campaignFailureExpected: ({ context }) => context.awaitingPlan !== null,
    isPaused: ({ context }) => context.status === 'PAUSED',
    isCurrentReport: ({ context, event }) => event.type === 'ATTEMPT.REPORTED' && isCurrentReport(context, event),
    anyCurrentReport: ({ context, event }) => event.type === 'ATTEMPTS.REPORTED' && anyCurrentReport(context, event.reports),
    commandAccepted: ({ context, event }) => isCommand(event) && checkCommand(context, event) === null,
    runEnded: ({ context }) => context.status === 'COMPLETED' || context.status === 'FAILED',
    progressing: ({ context }) => cycleOutcome(context).kind === 'progress',
    failing: ({ context }) => cycleOutcome(context).kind === 'failed',
    awaitingPlan: ({ context }) => context.awaitingPlan !== null,
  },
  actions: {
    setStatus: assign(({ context }, params: { status: RunStatus }) => withStatus(context, params.status)),
    adoptPlan: assign(({ context, event }) => (event.type === 'CAMPAIGN.PLANNED' ? adoptPlan(context, event) : context)),
    rejectPlan: assign(({ context, event }) => {
      if (event.type !== 'CAMPAIGN.PLANNED' || event.workflow === null) return context;
      const why = checkWorkflow(context, event.workflow.tasks) ?? 'invalid workflow';
      return { ...context, awaitingPlan: null, reason: `invalid workflow from the campaign (iteration ${event.iteration}): ${why}` };
    }),
    stopSpinning: assign(({ context, event }) =>
      event.type === 'CAMPAIGN.PLANNED' ? { ...context, awaitingPlan: null, reason: iterationLimitReason(context, event) } : context,
    ),
    campaignFailed: assign(({ context, event }) =>
      event.type === 'CAMPAIGN.FAILED' ? { ...context, awaitingPlan: null, reason: `campaign failed: ${event.reason}` } : context,
    ),
    trackReport: assign(({ context, event }) => (event.type === 'ATTEMPT.REPORTED' ? trackReport(context, event) : context)),
    trackReports: assign(({ context, event }) => (event.type === 'ATTEMPTS.REPORTED' ? trackReports(context, event.reports) : context)),
    skip: assign(({ context }) => applySkips(context)),
    dispatch: enqueueActions(({ context, enqueue }) => {
      const plan = planDispatch(context);
      if (plan.length === 0) return;
      enqueue.assign(applyDispatch(context, plan));
      for (const d of plan) enqueue.emit({ type: 'message', message: creationMessage(d) });
    }),
    recordFailure: assign(({ context }) => {
      const outcome = cycleOutcome(context);
      return outcome.kind === 'failed' ? { ...context, reason: outcome.reason } : context;
    }),
    requestAnalysis: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({ awaitingPlan: context.iteration + 1 });
      enqueue.emit({
        type: 'effect',
        effect: { type: 'campaign.analyzeAndPlan', iteration: context.iteration, results: analyzeResults(context) },
      });
    }),
    acceptCommand: enqueueActions(({ context, event, enqueue }) => {
      if (!isCommand(event)) return;
      const { context: next, messages } = applyCommand(context, event);
      if (next !== context) enqueue.assign(next);
      enqueue.emit({ type: 'command', outcome: { verb: commandVerb(event.type), accepted: true, ...targetOf(event), ...byOf(event) } });
      for (const message of messages) enqueue.emit({ type: 'message', message });
    }),
    rejectCommand: emit(({ context, event }) => {
      const cmd = event as RunCommand;
      const why = checkCommand(context, cmd) ?? { code: 'RUN_TERMINAL', reason: 'not accepted' };
      return {
        type: 'command' as const,
        outcome: { verb: commandVerb(cmd.type), accepted: false, code: why.code, reason: why.reason, ...targetOf(cmd), ...byOf(cmd) },
      };
    }),
  },
}).createMachine({
  id: 'run',
  context: ({ input }) => initialRunContext(requireInput(input)),
  initial: 'pending',
  on: {
    'ATTEMPT.REPORTED': { guard: 'isCurrentReport', actions: 'trackReport' },
    'ATTEMPTS.REPORTED': { guard: 'anyCurrentReport', actions: 'trackReports' },
    'CAMPAIGN.PLANNED': [
      { guard: and(['planExpected', 'planIsFinal']), target: '.completed', actions: 'adoptPlan' },
      { guard: and(['planExpected', 'planBeyondLimit']), target: '.failed', actions: 'stopSpinning' },
      { guard: and(['planExpected', 'planIsInvalid']), target: '.failed', actions: 'rejectPlan' },
      { guard: and(['planExpected', 'isPaused']), actions: 'adoptPlan' },
      { guard: 'planExpected', target: '.poll', actions: 'adoptPlan' },
    ],
    'CAMPAIGN.FAILED': { guard: 'campaignFailureExpected', target: '.failed', actions: 'campaignFailed' },
    'CMD.PAUSE': [{ guard: 'commandAccepted', target: '.paused', actions: 'acceptCommand' }, { actions: 'rejectCommand' }],
    'CMD.RESUME': [{ guard: 'commandAccepted', target: '.waiting', actions: 'acceptCommand' }, { actions: 'rejectCommand' }],
    'CMD.CANCEL': [{ guard: 'commandAccepted', target: '.cancelled', actions: 'acceptCommand' }, { actions: 'rejectCommand' }],
    'CMD.REVIVE': [{ guard: 'commandAccepted', target: '.waiting', actions: 'acceptCommand' }, { actions: 'rejectCommand' }],
    'CMD.RERUN': [
      { guard: and(['commandAccepted', 'runEnded']), target: '.waiting', actions: 'acceptCommand' },
      { guard: 'commandAccepted', actions: 'acceptCommand' },
      { actions: 'rejectCommand' },
    ],
    'CMD.CANCEL_ATTEMPT': [{ guard: 'commandAccepted', actions: 'acceptCommand' }, { actions: 'rejectCommand' }],
    'CMD.APPROVE': [{ guard: 'commandAccepted', actions: 'acceptCommand' }, { actions: 'rejectCommand' }],
    'CMD.REJECT': [{ guard: 'commandAccepted', actions: 'acceptCommand' }, { actions: 'rejectCommand' }],
  },
  states: {
    pending: {
      on: {
        'RUN.STEP': 'poll',
        // The first plan arrives before the first step: adopt it and stay PENDING.
        'CAMPAIGN.PLANNED': [
          { guard: and(['planExpected', 'planIsFinal']), target: 'completed', actions: 'adoptPlan' },
          { guard: and(['planExpected', 'planIsInvalid']), target: 'failed', actions: 'rejectPlan' },
          { guard: 'planExpected', actions: 'adoptPlan' },
        ],
      },
    },
    // One cycle in one state: poll (attempt reports were applied as they arrived), plan (skips),
    // execute (dispatch), then analyze (skips again: a FAILED_INIT dispatch may have doomed
    // dependants in this same pass) and decide where the run rests. The phases are entry actions,
    // in that order, of one state rather than states of their own: each state XState passes through
    // is a microstep, and a run takes this path once per cycle.
    poll: {
      entry: [{ type: 'setStatus', params: { status: 'RUNNING' } }, 'skip', 'dispatch', 'skip'],
      always: [
        { guard: 'progressing', target: 'waiting' },
        { guard: 'failing', target: 'failed', actions: 'recordFailure' },
        { guard: 'awaitingPlan', target: 'analyze.awaitingCampaign' },
        { target: 'analyze.awaitingCampaign', actions: 'requestAnalysis' },
      ],
    },
    analyze: { initial: 'awaitingCampaign', states: { awaitingCampaign: {} } },
    waiting: { entry: { type: 'setStatus', params: { status: 'RUNNING' } }, on: { 'RUN.STEP': 'poll' } },
    paused: { entry: { type: 'setStatus', params: { status: 'PAUSED' } } },
    completed: { entry: { type: 'setStatus', params: { status: 'COMPLETED' } } },
    failed: { entry: { type: 'setStatus', params: { status: 'FAILED' } } },
    cancelled: { entry: { type: 'setStatus', params: { status: 'CANCELLED' } } },
  },
});

export type RunMachine = typeof runMachine;
