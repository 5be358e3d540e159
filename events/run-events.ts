import { z } from 'zod';
import { IdSchema } from './ids.ts';
import { JsonObjectSchema, JsonValueSchema } from './json.ts';
import { AttemptStatusSchema } from './statuses.ts';
import { TaskSpecSchema, WorkflowSchema } from './workflow.ts';

/**
 * Every event the run and attempt machines accept. The host validates incoming events with
 * these schemas (and reads them back from the log with them); NATS commands reuse the `CMD.*`
 * ones. Times and ids always arrive inside events: the machines read no clock.
 */

/**
 * Who issued a command: `by` is what the caller claims (free text), `principal` who the transport
 * proved it was (the NATS user the server authenticated, or the OS account on the embedded log;
 * absent in records older than it). Plus an idempotency key chosen by the caller.
 */
const CommandMeta = {
  by: z.string().min(1).max(128).optional(),
  principal: z.string().min(1).max(128).optional(),
  commandId: z.string().min(1).max(128).optional(),
};

const OperatorCapSchema = z.number().int().positive().nullable();

// ---------- run events ----------

export const RunCreatedSchema = z.strictObject({
  type: z.literal('RUN.CREATED'),
  workspace: z.string().min(1),
  /** Global cap on active attempts; null = unlimited. */
  maxConcurrent: OperatorCapSchema.default(10),
  /** Per-operator `max_concurrent` (null = unlimited); every key here is a configured operator. */
  operatorCaps: z.record(z.string(), OperatorCapSchema).default({}),
  /** The workspace's default execution mode (last step of routing). */
  defaultOperator: z.string().min(1).default('local.default'),
  /** Configured operator keys (with or without a cap). */
  configuredOperators: z.array(z.string()).default([]),
  /** `MATTERSTACK_OPERATOR` as the host read it when the run was created (machines cannot read env). */
  envOperator: z.string().optional(),
  /** How many workflows the campaign may plan (iterations 0 … maxIterations-1); absent: DEFAULT_MAX_ITERATIONS. */
  maxIterations: z.number().int().positive().optional(),
});

export const CampaignPlannedSchema = z.strictObject({
  type: z.literal('CAMPAIGN.PLANNED'),
  /** The iteration this workflow starts (0 for the first plan). */
  iteration: z.number().int().nonnegative(),
  /** null: the campaign has no more work, the run completes. */
  workflow: WorkflowSchema.nullable(),
  /** The campaign state `analyze` returned (null before the first analysis). */
  state: JsonValueSchema,
});

export const CampaignFailedSchema = z.strictObject({
  type: z.literal('CAMPAIGN.FAILED'),
  iteration: z.number().int().nonnegative().optional(),
  reason: z.string().min(1),
});

/** Starts one cycle (poll → plan → execute → analyze); the host sends it after anything changed. */
export const RunStepSchema = z.strictObject({ type: z.literal('RUN.STEP') });

/** An attempt actor's status change, routed to its run. */
export const AttemptReportedSchema = z.strictObject({
  type: z.literal('ATTEMPT.REPORTED'),
  attemptId: IdSchema,
  taskId: IdSchema,
  status: AttemptStatusSchema,
  reason: z.string().optional(),
});

/**
 * Several attempts' reports, routed to their run as one event (the host gathers the reports that
 * arrive together): the run applies them in order, exactly as one ATTEMPT.REPORTED each, with one
 * transition and one log record for them all. A lone report travels as ATTEMPT.REPORTED.
 */
export const AttemptsReportedSchema = z.strictObject({
  type: z.literal('ATTEMPTS.REPORTED'),
  reports: z.array(AttemptReportedSchema.omit({ type: true })).min(2),
});

export const CmdPauseSchema = z.strictObject({ type: z.literal('CMD.PAUSE'), ...CommandMeta });
export const CmdResumeSchema = z.strictObject({ type: z.literal('CMD.RESUME'), ...CommandMeta });
export const CmdCancelSchema = z.strictObject({ type: z.literal('CMD.CANCEL'), ...CommandMeta });
export const CmdReviveSchema = z.strictObject({ type: z.literal('CMD.REVIVE'), ...CommandMeta });
export const CmdRerunSchema = z.strictObject({
  type: z.literal('CMD.RERUN'),
  taskId: IdSchema,
  recursive: z.boolean().default(false),
  ...CommandMeta,
});
export const CmdCancelAttemptSchema = z.strictObject({ type: z.literal('CMD.CANCEL_ATTEMPT'), attemptId: IdSchema, ...CommandMeta });
/** Most characters a gate decision's data may take as JSON: it travels in one NATS message and stays in the log. */
export const GATE_DATA_MAX_CHARS = 256 * 1024;
/** The data a person attaches to a gate decision (`--data`): what `analyze` receives as the gate's result data. */
export const GateDataSchema = JsonValueSchema.refine((value) => JSON.stringify(value).length <= GATE_DATA_MAX_CHARS, {
  message: `must be at most ${GATE_DATA_MAX_CHARS} characters as JSON`,
});
export const CmdApproveSchema = z.strictObject({ type: z.literal('CMD.APPROVE'), taskId: IdSchema, comment: z.string().optional(), data: GateDataSchema.optional(), ...CommandMeta });
export const CmdRejectSchema = z.strictObject({ type: z.literal('CMD.REJECT'), taskId: IdSchema, comment: z.string().optional(), data: GateDataSchema.optional(), ...CommandMeta });

export const RunCommandSchema = z.discriminatedUnion('type', [
  CmdPauseSchema,
  CmdResumeSchema,
  CmdCancelSchema,
  CmdReviveSchema,
  CmdRerunSchema,
  CmdCancelAttemptSchema,
  CmdApproveSchema,
  CmdRejectSchema,
]);

export const RunEventSchema = z.discriminatedUnion('type', [
  RunCreatedSchema,
  CampaignPlannedSchema,
  CampaignFailedSchema,
  RunStepSchema,
  AttemptReportedSchema,
  AttemptsReportedSchema,
  ...RunCommandSchema.options,
]);

// ---------- attempt events ----------

/** Sent by the run when it dispatches a task; `initError` set = the attempt is born FAILED_INIT. */
export const AttemptCreatedSchema = z.strictObject({
  type: z.literal('ATTEMPT.CREATED'),
  attemptId: IdSchema,
  taskId: IdSchema,
  operatorKey: z.string(),
  task: TaskSpecSchema,
  initError: z.string().optional(),
});

/** The operator accepted the work (result of the `attempt.start` effect). */
export const AttemptSubmittedSchema = z.strictObject({
  type: z.literal('ATTEMPT.SUBMITTED'),
  externalId: z.string().min(1),
  operatorData: JsonObjectSchema.optional(),
  dir: z.string().optional(),
  status: z.enum(['SUBMITTED', 'RUNNING', 'WAITING_EXTERNAL']).default('SUBMITTED'),
});

export const AttemptSubmitFailedSchema = z.strictObject({ type: z.literal('ATTEMPT.SUBMIT_FAILED'), reason: z.string().min(1) });

/** Outcome of the `attempt.collect` effect. */
export const AttemptResultsSchema = z.strictObject({
  type: z.literal('ATTEMPT.RESULTS'),
  files: z.record(z.string(), z.string()).default({}),
  data: JsonValueSchema.optional(),
});
/** Outcome of the `attempt.collect` effect when the task's results cannot be taken (RESULTS_INVALID): the attempt fails. */
export const AttemptResultsInvalidSchema = z.strictObject({
  type: z.literal('ATTEMPT.RESULTS_INVALID'),
  files: z.record(z.string(), z.string()).default({}),
  reason: z.string().min(1),
});
export const AttemptCollectFailedSchema = z.strictObject({ type: z.literal('ATTEMPT.COLLECT_FAILED'), reason: z.string().min(1) });
/** What collecting an attempt's results gave: its files and data, why they cannot be taken, or why collecting failed. */
export const CollectedOutcomeSchema = z.discriminatedUnion('type', [AttemptResultsSchema, AttemptResultsInvalidSchema, AttemptCollectFailedSchema]);

/**
 * A poll/watch outcome. The host only sends it when the status differs from the last one. A report
 * that ends the attempt (COMPLETED, FAILED) may carry what collecting gave (`results`): the attempt
 * then ends collected in one transition instead of a report and an ATTEMPT.RESULTS (or
 * RESULTS_INVALID, COLLECT_FAILED) after it, which older records keep doing and still mean.
 */
export const OperatorReportedSchema = z.strictObject({
  type: z.literal('OPERATOR.REPORTED'),
  status: z.enum(['SUBMITTED', 'RUNNING', 'WAITING_EXTERNAL', 'COMPLETED', 'FAILED', 'CANCELLED']),
  reason: z.string().optional(),
  results: CollectedOutcomeSchema.optional(),
});

/** Cancel request (from the run's cancel, or a cancel-attempt command routed by the run). */
export const AttemptCancelSchema = z.strictObject({ type: z.literal('ATTEMPT.CANCEL'), reason: z.string().optional(), by: z.string().optional() });
/** Outcome of the `attempt.cancel` effect: the operator stopped the work. */
export const AttemptCancelledSchema = z.strictObject({ type: z.literal('ATTEMPT.CANCELLED'), reason: z.string().optional() });

/**
 * Gate decisions routed by the run from CMD.APPROVE / CMD.REJECT: `by` is the issuer's claim and
 * `principal` who was authenticated (NATS user, OS account). Records written before `principal`
 * existed hold both in `by` as text (`alice (as scientist)`) and keep meaning exactly that.
 */
const DecisionFields = { comment: z.string().optional(), data: JsonValueSchema.optional(), by: z.string().optional(), principal: z.string().optional() };
export const AttemptApproveSchema = z.strictObject({ type: z.literal('ATTEMPT.APPROVE'), ...DecisionFields });
export const AttemptRejectSchema = z.strictObject({ type: z.literal('ATTEMPT.REJECT'), ...DecisionFields });

export const AttemptEventSchema = z.discriminatedUnion('type', [
  AttemptCreatedSchema,
  AttemptSubmittedSchema,
  AttemptSubmitFailedSchema,
  OperatorReportedSchema,
  AttemptResultsSchema,
  AttemptResultsInvalidSchema,
  AttemptCollectFailedSchema,
  AttemptCancelSchema,
  AttemptCancelledSchema,
  AttemptApproveSchema,
  AttemptRejectSchema,
]);

export type RunCreated = z.output<typeof RunCreatedSchema>;
export type CampaignPlanned = z.output<typeof CampaignPlannedSchema>;
export type AttemptReported = z.output<typeof AttemptReportedSchema>;
export type AttemptsReported = z.output<typeof AttemptsReportedSchema>;
/** One report inside ATTEMPTS.REPORTED: an ATTEMPT.REPORTED without its type. */
export type AttemptReport = AttemptsReported['reports'][number];
export type RunCommand = z.output<typeof RunCommandSchema>;
export type RunEvent = z.output<typeof RunEventSchema>;
export type RunEventInput = z.input<typeof RunEventSchema>;
export type AttemptCreated = z.output<typeof AttemptCreatedSchema>;
export type AttemptEvent = z.output<typeof AttemptEventSchema>;
export type CollectedOutcome = z.output<typeof CollectedOutcomeSchema>;
export type AttemptEventInput = z.input<typeof AttemptEventSchema>;
export type RunEventType = RunEvent['type'];
export type AttemptEventType = AttemptEvent['type'];

export const RUN_EVENT_TYPES = RunEventSchema.options.map((o) => o.shape.type.value) as readonly RunEventType[];
export const ATTEMPT_EVENT_TYPES = AttemptEventSchema.options.map((o) => o.shape.type.value) as readonly AttemptEventType[];

/** Stable codes of a refused command (the `code` of a `command` change with accepted:false). */
export const COMMAND_REJECTION_CODES = [
  'RUN_NOT_STARTED',
  'RUN_TERMINAL',
  'RUN_NOT_TERMINAL',
  'ALREADY_PAUSED',
  'NOT_PAUSED',
  'RUN_ANALYZING',
  'TASK_NOT_FOUND',
  'TASK_ACTIVE',
  'TASK_NOT_RERUNNABLE',
  'ATTEMPT_NOT_FOUND',
  'ATTEMPT_NOT_ACTIVE',
  'NOT_A_GATE',
  'GATE_NOT_WAITING',
  'GATE_ALREADY_DECIDED',
  'GATE_DATA_INVALID',
] as const;
export type CommandRejectionCode = (typeof COMMAND_REJECTION_CODES)[number];

/**
 * Who issued a command, for people: the claim with the proven identity when they differ
 * (`bob (as scientist)`), either alone otherwise; undefined when neither is known.
 */
export function issuerText(by: string | undefined, principal: string | undefined): string | undefined {
  if (by === undefined) return principal;
  return principal === undefined || principal === by ? by : `${by} (as ${principal})`;
}

/**
 * `issuerText` for a command's record in replay and evidence: a claim nobody vouched for (sent on a
 * documented `ms.cmd.…` subject, or recorded before principals) is marked so: `bob (unverified)`.
 */
export function recordedIssuerText(by: string | undefined, principal: string | undefined): string | undefined {
  return by !== undefined && principal === undefined ? `${by} (unverified)` : issuerText(by, principal);
}

/** Parses a run event (host boundary); throws a ZodError naming the bad field. */
export function parseRunEvent(input: unknown): RunEvent {
  return RunEventSchema.parse(input);
}

/** Parses an attempt event (host boundary); throws a ZodError naming the bad field. */
export function parseAttemptEvent(input: unknown): AttemptEvent {
  return AttemptEventSchema.parse(input);
}

/** What collecting gave, whether it came as its own event or with the report that ended the attempt. */
export function collectedOutcomeOf(event: AttemptEvent): CollectedOutcome | undefined {
  if (event.type === 'OPERATOR.REPORTED') return event.results;
  if (event.type === 'ATTEMPT.RESULTS' || event.type === 'ATTEMPT.RESULTS_INVALID' || event.type === 'ATTEMPT.COLLECT_FAILED') return event;
  return undefined;
}
