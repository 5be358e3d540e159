import type { JsonValue } from '../events/json.ts';
import { campaignError } from './campaign-module.ts';
import { CampaignReplySchema, type CampaignRequest } from './campaign-protocol.ts';
import { copyJson } from './json-copy.ts';

/** How much of a bad stdout a message quotes. */
const PREVIEW_CHARS = 120;

function preview(text: string): string {
  const shown = text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
  return JSON.stringify(shown);
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; problem: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    // A RangeError (nesting beyond the stack) lands here too: any stdout gets an answer, never a crash.
    return { ok: false, problem: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * The value a campaign run as a command replied to `request` on its stdout: exactly one JSON
 * document `{"id": <request id>, "ok": true, "value": ...}` (or `"ok": false` with `code` and
 * `message`), checked like a TypeScript campaign's output (JSON only, at most 1,000 levels deep).
 * Anything else is a CAMPAIGN_ERROR naming the campaign, the call and what is wrong.
 */
export function parseCommandReply(name: string, request: CampaignRequest, stdout: string): JsonValue {
  const { method } = request;
  const fail = (message: string): never => {
    throw campaignError(name, `${method} failed: ${message}`);
  };
  const text = stdout.trim();
  if (text === '') fail(`wrote no reply on stdout (expected one JSON document {"id": ${request.id}, "ok": true, "value": ...})`);
  const parsed = parseJson(text);
  if (!parsed.ok) fail(`its stdout is not one JSON document (${parsed.problem}); stdout carries only the reply, print anything else to stderr; stdout began ${preview(text)}`);
  const raw = parsed.ok ? parsed.value : undefined;
  if (raw !== null && typeof raw === 'object' && (raw as { ok?: unknown }).ok === true && !Object.hasOwn(raw, 'value')) {
    fail('its reply has no "value" (plan replies the workflow or null, analyze the new state)');
  }
  const reply = CampaignReplySchema.safeParse(raw);
  if (!reply.success) {
    const issue = reply.error.issues[0]!;
    const field = issue.path.map(String).join('.') || (issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : '(the reply)');
    return fail(`its reply is outside the protocol: field ${field}: ${issue.message}`);
  }
  const answer = reply.data;
  if (answer.id !== request.id) fail(`its reply answers request ${answer.id}, not ${request.id}`);
  if (!answer.ok) return fail(answer.message);
  const what = method === 'plan' ? 'workflow' : method === 'analyze' ? 'state' : 'info';
  const copy = copyJson(answer.value, what);
  if (!copy.ok) throw campaignError(name, `${method} returned a ${what} that is not JSON-serialisable: ${copy.problem}`);
  return copy.value;
}
