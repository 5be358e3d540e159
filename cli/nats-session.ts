import type { NatsConnection } from '@nats-io/transport-node';
import type { CommandReplyMessage, CommandVerb, InitPayload } from '../events/command-messages.ts';
import { ERROR_CODES, isMatterStackError, MatterStackError, type ErrorCode } from '../events/errors.ts';
import type { NatsTarget } from './nats-target.ts';

/** How long a command waits for a worker's reply (init loads and plans a campaign: longer). */
export const COMMAND_TIMEOUT_MS = 5_000;
export const INIT_TIMEOUT_MS = 30_000;

/**
 * Connects as the invocation's NATS user; an unreachable server or bad credentials → one
 * LOG_UNAVAILABLE line. A command gives up with its connection; `reconnect` keeps a long-lived
 * one (a page's watch) trying through a server restart.
 */
export async function connectTo(target: NatsTarget, reconnect = false): Promise<NatsConnection> {
  // Loaded on demand: --help and the embedded path should not pay for the NATS client.
  const { connect } = await import('@nats-io/transport-node');
  try {
    return await connect({ servers: target.servers, user: target.user, pass: target.pass, name: 'matterstack-cli', timeout: 5_000, maxReconnectAttempts: reconnect ? -1 : 0 });
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    const who = target.user === undefined ? 'without a user (set --user and MATTERSTACK_NATS_PASS, or user:pass in the URL)' : `as "${target.user}"`;
    const hint = /authoriz/i.test(detail) ? `: the server refused the login ${who}` : `: ${detail}`;
    throw new MatterStackError('LOG_UNAVAILABLE', `cannot connect to NATS at ${target.display}${hint}`, { servers: target.display }, { cause: error });
  }
}

/** Runs `body` with a NATS connection open, closing it afterwards whatever happens. */
export async function withNats<T>(target: NatsTarget, body: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connectTo(target);
  try {
    return await body(nc);
  } finally {
    await nc.close();
  }
}

/** The embedded path's reply shape (host/run-lifecycle `CommandReply`). */
export type CliCommandReply =
  | { accepted: true; seq: number; runId?: string; status?: Record<string, unknown>; runs?: Record<string, unknown>[] }
  | { accepted: false; code: string; message: string };

// On the embedded path these are thrown (unknown run, bad input, outage) rather than recorded as a
// refusal; throwing them here too keeps the printed line and the exit code the same on both paths.
const THROWN_CODES: ReadonlySet<string> = new Set([
  'RUN_NOT_FOUND',
  'VALIDATION_FAILED',
  'LOG_UNAVAILABLE',
  'VERSION_CONFLICT',
  'WORKSPACE_NOT_FOUND',
  'INVALID_WORKFLOW',
  'INVALID_CONFIG',
  'CAMPAIGN_ERROR',
  'OPERATOR_ERROR',
]);

function isErrorCode(code: string): code is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code);
}

/** Throws the error a NATS rejection stands for; `all`: every rejection (init has no "refused" outcome). */
function throwIfError(code: string, message: string, all: boolean): void {
  if (code === 'INTERNAL') throw new Error(message);
  if (isErrorCode(code) && (all || THROWN_CODES.has(code))) throw new MatterStackError(code, message);
}

/** Maps a worker's reply to the embedded reply shape, throwing what the embedded path throws. */
export function toCliReply(reply: CommandReplyMessage, options: { allRejectionsThrow?: boolean } = {}): CliCommandReply {
  if (reply.accepted) return reply;
  throwIfError(reply.error.code, reply.error.message, options.allRejectionsThrow === true);
  return { accepted: false, code: reply.error.code, message: reply.error.message };
}

/** The subject and operation a server refused, when `error` is (or wraps) a permissions violation. */
function refusedPermission(error: unknown): { subject: string; operation: string } | undefined {
  if (isMatterStackError(error) && error.details.reason === 'permission') return { subject: String(error.details.subject), operation: 'publish' };
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e.name === 'PermissionViolationError') {
      const { subject, operation } = e as Error & { subject?: unknown; operation?: unknown };
      return { subject: String(subject), operation: typeof operation === 'string' ? operation : 'publish' };
    }
  }
  return undefined;
}

/** Rewrites a refused publish or subscription into one line naming the user, what it may not do and the subject. */
export function explainPermission(error: unknown, target: NatsTarget, what: string): never {
  const refused = refusedPermission(error);
  if (refused !== undefined) {
    const details = { ...(isMatterStackError(error) ? error.details : {}), subject: refused.subject, reason: 'permission' };
    throw new MatterStackError('COMMAND_REJECTED', `NATS user "${target.user ?? '(anonymous)'}" is not allowed to ${what} (${refused.operation} on ${refused.subject} refused by the server's permissions)`, details, { cause: error });
  }
  throw error;
}

/** Sends `verb` to run `runId` through a worker and maps the reply. */
export async function natsRunRequest(target: NatsTarget, runId: string, verb: CommandVerb, payload: Record<string, unknown>): Promise<CliCommandReply> {
  const { requestCommand } = await import('../distributed/command-client.ts');
  const reply = await withNats(target, (nc) => requestCommand(nc, runId, verb, payload, COMMAND_TIMEOUT_MS)).catch((error: unknown) => explainPermission(error, target, `send ${verb} commands`));
  return toCliReply(reply);
}

/** Asks a worker to create a run (`ms.as.<user>.cmd.init`); any refusal is thrown as on the embedded path. */
export async function natsInit(target: NatsTarget, payload: InitPayload): Promise<{ runId: string; seq: number }> {
  const { requestInit } = await import('../distributed/command-client.ts');
  const reply = await withNats(target, (nc) => requestInit(nc, payload, INIT_TIMEOUT_MS)).catch((error: unknown) => explainPermission(error, target, 'create runs'));
  const mapped = toCliReply(reply, { allRejectionsThrow: true });
  if (!mapped.accepted) throw new MatterStackError('COMMAND_REJECTED', mapped.message);
  if (mapped.runId === undefined) throw new MatterStackError('INVALID_EVENT', 'the worker accepted init without naming the run');
  return { runId: mapped.runId, seq: mapped.seq };
}
