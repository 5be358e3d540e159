import { z } from 'zod';
import { IdSchema, WorkspaceSlugSchema } from './ids.ts';
import type { JsonValue } from './json.ts';
import { GateDataSchema, type RunCommand } from './run-events.ts';
import { RUN_STATUSES } from './statuses.ts';

/**
 * Payloads of the NATS commands (`ms.cmd.<runId>.<verb>`, `ms.cmd.init`, the same under `ms.as.<user>.`) and their replies.
 * The request is JSON (an empty body means `{}`); the run id comes from the subject.
 */

/**
 * Who asks (free text, a claim) and the caller's idempotency key: a repeat within the window gets
 * the first answer. No `principal`: the worker takes it from the subject the server let through.
 */
const Meta = { by: z.string().min(1).max(128).optional(), commandId: z.string().min(1).max(128).optional() };

const Bare = z.strictObject({ ...Meta });

/** Largest piece of a log one `logs` reply carries (base64 in JSON: ~1.4 MB on the wire). */
export const MAX_LOG_CHUNK_BYTES = 1024 * 1024;

/**
 * `ms.cmd.<runId>.logs`: one piece of an attempt's stdout or stderr. The client asks again from
 * `offset + bytes received` until it has `size` bytes: a log of any size streams in pieces.
 */
export const LogsPayloadSchema = z.strictObject({
  taskId: IdSchema,
  /** Attempt number (1 = first) or attempt id; default: the latest. */
  attempt: z.union([z.number().int().positive(), IdSchema]).optional(),
  stream: z.enum(['stdout', 'stderr']).default('stdout'),
  /** Byte offset to read from; default: the start, or the last `tailLines` lines. */
  offset: z.number().int().nonnegative().optional(),
  tailLines: z.number().int().positive().max(1_000_000).optional(),
  maxBytes: z.number().int().positive().max(MAX_LOG_CHUNK_BYTES).default(256 * 1024),
});
export type LogsPayload = z.output<typeof LogsPayloadSchema>;

/** The piece of log a `logs` reply carries (`data` is base64; `size` is null while the log does not exist). */
export const LogChunkSchema = z.strictObject({
  attemptId: z.string(),
  attemptNumber: z.number().int(),
  attemptStatus: z.string(),
  ended: z.boolean(),
  stream: z.enum(['stdout', 'stderr']),
  where: z.string(),
  size: z.number().int().nonnegative().nullable(),
  offset: z.number().int().nonnegative(),
  data: z.string(),
});
export type LogChunkMessage = z.output<typeof LogChunkSchema>;

/** Request schemas by verb. */
export const COMMAND_PAYLOADS = {
  pause: Bare,
  resume: Bare,
  cancel: Bare,
  revive: Bare,
  step: Bare,
  status: z.strictObject({}),
  logs: LogsPayloadSchema,
  rerun: z.strictObject({ taskId: IdSchema, recursive: z.boolean().default(false), ...Meta }),
  'cancel-attempt': z.strictObject({ attemptId: IdSchema, ...Meta }),
  approve: z.strictObject({ taskId: IdSchema, comment: z.string().max(10_000).optional(), data: GateDataSchema.optional(), ...Meta }),
  reject: z.strictObject({ taskId: IdSchema, comment: z.string().max(10_000).optional(), data: GateDataSchema.optional(), ...Meta }),
} as const;

export type CommandVerb = keyof typeof COMMAND_PAYLOADS;
export const COMMAND_VERBS = Object.keys(COMMAND_PAYLOADS) as CommandVerb[];
export type CommandPayload<V extends CommandVerb> = z.output<(typeof COMMAND_PAYLOADS)[V]>;

/** `ms.cmd.init`: start a run of a workspace (the run id is generated when omitted). */
export const InitPayloadSchema = z.strictObject({
  workspace: WorkspaceSlugSchema,
  runId: IdSchema.optional(),
  maxConcurrent: z.number().int().positive().nullable().optional(),
  ...Meta,
});
export type InitPayload = z.output<typeof InitPayloadSchema>;

/**
 * `ms.cmd.list`: the runs of the log, latest activity first (read-only: the viewer may ask). Without
 * `all` or `statuses` only active runs (PENDING, RUNNING, PAUSED); `since`: latest record at or after it.
 */
export const ListPayloadSchema = z.strictObject({
  all: z.boolean().default(false),
  statuses: z.array(z.enum(RUN_STATUSES)).min(1).optional(),
  workspace: WorkspaceSlugSchema.optional(),
  since: z.iso.datetime({ offset: true }).optional(),
});
export type ListPayload = z.output<typeof ListPayloadSchema>;

/** The error half of a reply: a stable code (MatterStackError code or command rejection code) and a message. */
export const CommandErrorSchema = z.strictObject({ code: z.string().min(1), message: z.string() });

/** A reply on the wire. `status` carries the status view; `log` a piece of log; `runId` answers `init`; `runs` answers `list`. */
export const CommandReplySchema = z.union([
  z.object({
    accepted: z.literal(true),
    seq: z.number().int().nonnegative(),
    runId: z.string().optional(),
    status: z.record(z.string(), z.unknown()).optional(),
    log: LogChunkSchema.optional(),
    runs: z.array(z.record(z.string(), z.unknown())).optional(),
  }),
  z.object({ accepted: z.literal(false), error: CommandErrorSchema }),
]);
export type CommandReplyMessage = z.output<typeof CommandReplySchema>;

/** True when `verb` names a run command. */
export function isCommandVerb(verb: string): verb is CommandVerb {
  return Object.hasOwn(COMMAND_PAYLOADS, verb);
}

/** The comment and data of a validated approve / reject payload. */
function decisionOf(payload: Record<string, unknown>): { comment?: string; data?: JsonValue } {
  return {
    ...(typeof payload.comment === 'string' ? { comment: payload.comment } : {}),
    ...(payload.data !== undefined ? { data: payload.data as JsonValue } : {}),
  };
}

/** The run event a mutating verb becomes (`step`, `status` and `logs` have none); `principal`: who the server authenticated. */
export function toRunCommand(verb: CommandVerb, payload: Record<string, unknown>, principal?: string): RunCommand | undefined {
  const meta = {
    ...(payload.by !== undefined ? { by: payload.by as string } : {}),
    ...(principal !== undefined ? { principal } : {}),
    ...(payload.commandId !== undefined ? { commandId: payload.commandId as string } : {}),
  };
  switch (verb) {
    case 'pause':
      return { type: 'CMD.PAUSE', ...meta };
    case 'resume':
      return { type: 'CMD.RESUME', ...meta };
    case 'cancel':
      return { type: 'CMD.CANCEL', ...meta };
    case 'revive':
      return { type: 'CMD.REVIVE', ...meta };
    case 'rerun':
      return { type: 'CMD.RERUN', taskId: payload.taskId as string, recursive: payload.recursive === true, ...meta };
    case 'cancel-attempt':
      return { type: 'CMD.CANCEL_ATTEMPT', attemptId: payload.attemptId as string, ...meta };
    case 'approve':
      return { type: 'CMD.APPROVE', taskId: payload.taskId as string, ...decisionOf(payload), ...meta };
    case 'reject':
      return { type: 'CMD.REJECT', taskId: payload.taskId as string, ...decisionOf(payload), ...meta };
    case 'step':
    case 'status':
    case 'logs':
      return undefined;
  }
}
