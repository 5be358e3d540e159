import { z } from 'zod';
import { ERROR_CODES } from '../events/errors.ts';
import type { JsonValue } from '../events/json.ts';
import type { TaskResult } from './campaign.ts';

/**
 * The JSON boundary between the host and campaign code run out of process: one request, one reply,
 * each a JSON text. The TypeScript worker (campaign-worker.ts) speaks it over a message port; a
 * campaign run as a command (exec-campaign.ts) reads one request on stdin and writes its reply on stdout.
 */
export type CampaignRequest =
  /** Load the module; the reply's value is CampaignInfo. */
  | { id: number; method: 'load' }
  | ({ id: number; method: 'plan'; state: JsonValue | null } & Partial<CallContext>)
  | ({ id: number; method: 'analyze'; state: JsonValue | null; results: Record<string, TaskResult> } & Partial<CallContext>);

/**
 * Which run and workflow a plan/analyze call is for: `iteration` is the workflow being planned
 * (plan) or the one whose results are analyzed (analyze). Campaign code must not depend on it to
 * decide (a call may be repeated); it is there for logs and file names.
 */
export interface CallContext {
  runId: string;
  iteration: number;
}

export type CampaignMethod = CampaignRequest['method'];

/** What `load` answers about the campaign. */
export const CampaignInfoSchema = z.strictObject({
  /** The campaign's own cap on iterations (exported `maxIterations`), if it sets one. */
  maxIterations: z.number().int().positive().optional(),
});
export type CampaignInfo = z.infer<typeof CampaignInfoSchema>;

/**
 * A reply. `value` is whatever the call returned, already a JSON copy (it arrives as JSON text, so
 * it cannot be anything else); a failure carries a stable error code and a one-line message.
 */
export const CampaignReplySchema = z.discriminatedUnion('ok', [
  z.strictObject({ id: z.number().int(), ok: z.literal(true), value: z.unknown() }),
  z.strictObject({ id: z.number().int(), ok: z.literal(false), code: z.enum(ERROR_CODES), message: z.string().min(1) }),
]);
export type CampaignReply = z.infer<typeof CampaignReplySchema>;
