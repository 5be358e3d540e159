import { COMMAND_PAYLOADS, isCommandVerb, type CommandReplyMessage, type CommandVerb } from '../events/command-messages.ts';
import { errorMessage } from '../events/errors.ts';
import { isValidId } from '../events/ids.ts';

const decoder = new TextDecoder();

/** A rejected reply. */
export function rejected(code: string, message: string): CommandReplyMessage {
  return { accepted: false, error: { code, message } };
}

/** Parses a request body: empty means `{}`, anything else must be a JSON object. */
export function parseBody(data: Uint8Array): { ok: true; value: unknown } | { ok: false; message: string } {
  const text = decoder.decode(data).trim();
  if (text === '') return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, message: `payload is not JSON: ${errorMessage(error)}` };
  }
}

/** One line naming every schema issue of a payload. */
export function describeIssues(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): string {
  return error.issues.map((i) => `${i.path.length > 0 ? i.path.map(String).join('.') : '(payload)'}: ${i.message}`).join('; ');
}

/** A run command request validated (run id, verb, JSON payload against its schema, principal), or the rejection to reply. */
export function parseRunCommand(
  data: Uint8Array,
  runId: string,
  verb: string,
  principal: string | undefined,
): { ok: true; verb: CommandVerb; payload: Record<string, unknown> } | { ok: false; reply: CommandReplyMessage } {
  if (!isValidId(runId)) return { ok: false, reply: rejected('VALIDATION_FAILED', `invalid run id ${JSON.stringify(runId)}`) };
  if (!isCommandVerb(verb)) return { ok: false, reply: rejected('VALIDATION_FAILED', `unknown command ${JSON.stringify(verb)}`) };
  const body = parseBody(data);
  if (!body.ok) return { ok: false, reply: rejected('VALIDATION_FAILED', body.message) };
  const parsed = COMMAND_PAYLOADS[verb].safeParse(body.value);
  if (!parsed.success) return { ok: false, reply: rejected('VALIDATION_FAILED', `invalid ${verb} payload: ${describeIssues(parsed.error)}`) };
  if (principal !== undefined && !isValidId(principal)) return { ok: false, reply: rejected('VALIDATION_FAILED', `invalid NATS user token ${JSON.stringify(principal)}`) };
  return { ok: true, verb, payload: parsed.data as Record<string, unknown> };
}
