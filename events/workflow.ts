import { z } from 'zod';
import { IdSchema } from './ids.ts';
import { JsonObjectSchema, JsonValueSchema } from './json.ts';

/** A file staged into the attempt directory: literal content, or a source path to copy. */
export const TaskFileSchema = z.union([z.string(), z.strictObject({ source: z.string().min(1) })], {
  error: 'must be a string (the file\'s content) or { source: "path/in/the/workspace" } (a file to copy)',
});

/** One task of a workflow (SPEC.md §1). Unknown fields are errors. */
export const TaskSpecSchema = z.strictObject({
  id: IdSchema,
  kind: z.enum(['compute', 'gate', 'external']).default('compute'),
  command: z.union([z.string().min(1), z.array(z.string()).min(1)]).optional(),
  image: z.string().optional(),
  files: z.record(z.string(), TaskFileSchema).optional(),
  env: z.record(z.string(), z.string()).optional(),
  dependencies: z.array(IdSchema).default([]),
  cores: z.number().int().positive().optional(),
  memoryGb: z.number().positive().optional(),
  gpus: z.number().int().nonnegative().optional(),
  timeLimitMinutes: z.number().positive().optional(),
  allowFailure: z.boolean().default(false),
  allowDependencyFailure: z.boolean().default(false),
  downloadPatterns: z
    .strictObject({ include: z.array(z.string()).optional(), exclude: z.array(z.string()).optional() })
    .optional(),
  operatorKey: z.string().optional(),
  /** Automatic retries of a FAILED attempt (a new attempt each time, with backoff); default 0. */
  retries: z.number().int().nonnegative().max(100).optional(),
  /**
   * Which failures are retried (default: every FAILED attempt): failure kinds such as `TIMEOUT`,
   * `NODE_FAIL`, `OUT_OF_MEMORY`, `PREEMPTED`, `lost`, `exit code 3`, matched case-insensitively
   * against the start of the attempt's reason (local time limits count as `TIMEOUT`).
   */
  retryOn: z.array(z.string().min(1)).optional(),
  /** First retry delay in seconds (default 10), doubled for each further retry (at most 10 min). */
  retryBackoffSeconds: z.number().nonnegative().optional(),
  /** Gate tasks: the question shown to the approver. */
  message: z.string().optional(),
  /** Gate tasks: the JSON Schema an approve's data must match (checked when planned; a mismatch refuses the approve). */
  inputSchema: JsonObjectSchema.optional(),
  /**
   * Compute and external tasks: the JSON Schema the data they report (results.json, the response)
   * must match (checked when planned; completed data that breaks it fails the attempt). `matterstack check` draws completed results from it.
   */
  resultsSchema: JsonObjectSchema.optional(),
  /** External tasks: the request handed to the outside agent. */
  request: JsonValueSchema.optional(),
});

/** A workflow as a campaign returns it. */
export const WorkflowSchema = z.strictObject({ tasks: z.array(TaskSpecSchema) });

export type TaskSpec = z.infer<typeof TaskSpecSchema>;
export type TaskSpecInput = z.input<typeof TaskSpecSchema>;
export type Workflow = z.infer<typeof WorkflowSchema>;
export type WorkflowInput = z.input<typeof WorkflowSchema>;
