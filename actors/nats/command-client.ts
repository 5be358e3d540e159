import type { NatsConnection } from '@nats-io/transport-node';
import { CommandReplySchema, type CommandReplyMessage, type CommandVerb, type InitPayload } from '../../events/command-messages.ts';
import { MatterStackError } from '../../events/errors.ts';
import { commandSubject, INIT_COMMAND_SUBJECT } from '../../events/subjects.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function ask(nc: NatsConnection, subject: string, payload: unknown, timeoutMs: number): Promise<CommandReplyMessage> {
  let answer;
  try {
    answer = await nc.request(subject, encoder.encode(JSON.stringify(payload ?? {})), { timeout: timeoutMs });
  } catch (error) {
    throw new MatterStackError('LOG_UNAVAILABLE', `no answer on ${subject}: ${error instanceof Error ? error.message : String(error)} (is a worker running?)`, { subject }, { cause: error });
  }
  const parsed = CommandReplySchema.safeParse(JSON.parse(decoder.decode(answer.data)));
  if (!parsed.success) throw new MatterStackError('INVALID_EVENT', `malformed reply on ${subject}`, { subject });
  return parsed.data;
}

/** Sends a command to a run over NATS (`ms.cmd.<runId>.<verb>`) and returns the worker's reply. */
export function requestCommand(nc: NatsConnection, runId: string, verb: CommandVerb, payload: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<CommandReplyMessage> {
  return ask(nc, commandSubject(runId, verb), payload, timeoutMs);
}

/** Asks a worker to create and host a run (`ms.cmd.init`). */
export function requestInit(nc: NatsConnection, payload: InitPayload, timeoutMs = 60_000): Promise<CommandReplyMessage> {
  return ask(nc, INIT_COMMAND_SUBJECT, payload, timeoutMs);
}
