import { z } from 'zod';
import { IdSchema } from './ids.ts';
import { JsonObjectSchema, JsonValueSchema } from './json.ts';
import { AttemptStatusSchema, RunPhaseSchema, RunStatusSchema, TaskStatusSchema } from './statuses.ts';
import { TaskSpecSchema } from './workflow.ts';

/**
 * The domain facts a transition produced. The machines compute them; every log record carries
 * them; projections fold nothing else, so they never re-implement the machines' rules.
 */
export const DomainChangeSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('run.created'),
    workspace: z.string(),
    maxConcurrent: z.number().int().positive().nullable(),
  }),
  z.strictObject({ kind: z.literal('run.status'), status: RunStatusSchema, reason: z.string().optional() }),
  z.strictObject({ kind: z.literal('run.phase'), phase: RunPhaseSchema }),
  z.strictObject({
    kind: z.literal('workflow.planned'),
    iteration: z.number().int().nonnegative(),
    tasks: z.array(TaskSpecSchema),
  }),
  z.strictObject({ kind: z.literal('campaign.state'), iteration: z.number().int().nonnegative(), state: JsonValueSchema }),
  z.strictObject({ kind: z.literal('task.status'), taskId: IdSchema, status: TaskStatusSchema, reason: z.string().optional() }),
  z.strictObject({ kind: z.literal('attempt.created'), attemptId: IdSchema, taskId: IdSchema, operatorKey: z.string() }),
  z.strictObject({
    kind: z.literal('attempt.status'),
    attemptId: IdSchema,
    status: AttemptStatusSchema,
    reason: z.string().optional(),
    externalId: z.string().optional(),
    operatorData: JsonObjectSchema.optional(),
    dir: z.string().optional(),
  }),
  z.strictObject({
    kind: z.literal('attempt.results'),
    attemptId: IdSchema,
    files: z.record(z.string(), z.string()),
    data: JsonValueSchema.optional(),
  }),
  z.strictObject({
    kind: z.literal('attempt.decision'),
    attemptId: IdSchema,
    verb: z.enum(['approved', 'rejected']),
    by: z.string().optional(),
    principal: z.string().optional(),
    comment: z.string().optional(),
    data: JsonValueSchema.optional(),
  }),
  z.strictObject({
    kind: z.literal('command'),
    verb: z.string(),
    accepted: z.boolean(),
    code: z.string().optional(),
    reason: z.string().optional(),
    target: z.string().optional(),
    by: z.string().optional(),
    principal: z.string().optional(),
  }),
]);

export type DomainChange = z.infer<typeof DomainChangeSchema>;
export type DomainChangeKind = DomainChange['kind'];
