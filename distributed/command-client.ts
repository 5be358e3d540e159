import { NoRespondersError, PermissionViolationError, TimeoutError, type NatsConnection } from '@nats-io/transport-node';
import { CommandReplySchema, type CommandReplyMessage, type CommandVerb, type InitPayload, type ListPayload } from '../events/command-messages.ts';
import { MatterStackError } from '../events/errors.ts';
import { commandSubject, initCommandSubject, listCommandSubject } from '../events/subjects.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Why a request got no reply: nobody serves the subject, nobody answered in time, or the server's permissions refused it. */
export type RequestFailure = 'no-responders' | 'timeout' | 'permission' | 'other';

/** Classifies a failed `nc.request` (the client wraps the real reason in RequestError causes). */
export function requestFailureOf(error: unknown): RequestFailure {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof NoRespondersError) return 'no-responders';
    if (e instanceof PermissionViolationError) return 'permission';
    if (e instanceof TimeoutError) return 'timeout';
  }
  return 'other';
}

function unanswered(subject: string, timeoutMs: number, error: unknown): MatterStackError {
  const reason = requestFailureOf(error);
  const detail = error instanceof Error ? error.message : String(error);
  const message =
    reason === 'permission'
      ? `publishing on ${subject} is not allowed for this NATS user (nats.conf permissions)`
      : reason === 'no-responders'
        ? `no worker is serving ${subject} — is \`matterstack worker\` running?`
        : reason === 'timeout'
          ? `no worker answered on ${subject} within ${Math.round(timeoutMs / 1000)} s — is \`matterstack worker\` running?`
          : `no answer on ${subject}: ${detail} (is a worker running?)`;
  // A refused publish is the caller's fault, not an outage: no retry will help.
  const code = reason === 'permission' ? 'COMMAND_REJECTED' : 'LOG_UNAVAILABLE';
  return new MatterStackError(code, message, { subject, reason }, { cause: error });
}

async function ask(nc: NatsConnection, subject: string, payload: unknown, timeoutMs: number): Promise<CommandReplyMessage> {
  let answer;
  try {
    answer = await nc.request(subject, encoder.encode(JSON.stringify(payload ?? {})), { timeout: timeoutMs });
  } catch (error) {
    throw unanswered(subject, timeoutMs, error);
  }
  const parsed = CommandReplySchema.safeParse(JSON.parse(decoder.decode(answer.data)));
  if (!parsed.success) throw new MatterStackError('INVALID_EVENT', `malformed reply on ${subject}`, { subject });
  return parsed.data;
}

/** The NATS user the connection logged in as (the user token of its command subjects). */
function userOf(nc: NatsConnection): string | undefined {
  // The connection's own options (the client's implementation exposes them; the interface does not).
  return (nc as NatsConnection & { options?: { user?: string } }).options?.user || undefined;
}

/** Sends a command to a run over NATS (`ms.as.<user>.cmd.<runId>.<verb>`) and returns the worker's reply. */
export function requestCommand(nc: NatsConnection, runId: string, verb: CommandVerb, payload: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<CommandReplyMessage> {
  return ask(nc, commandSubject(runId, verb, userOf(nc)), payload, timeoutMs);
}

/** Asks a worker to create and host a run (`ms.as.<user>.cmd.init`). */
export function requestInit(nc: NatsConnection, payload: InitPayload, timeoutMs = 60_000): Promise<CommandReplyMessage> {
  return ask(nc, initCommandSubject(userOf(nc)), payload, timeoutMs);
}

/** Asks a worker for the runs of the log (`ms.as.<user>.cmd.list`). */
export function requestList(nc: NatsConnection, payload: Partial<ListPayload>, timeoutMs = 30_000): Promise<CommandReplyMessage> {
  return ask(nc, listCommandSubject(userOf(nc)), payload, timeoutMs);
}
