import { MatterStackError, isMatterStackError } from '../events/errors.ts';
import type { AnyCampaign, Campaign } from './campaign.ts';
import { CampaignInfoSchema, type CampaignReply, type CampaignRequest } from './campaign-protocol.ts';
import { copyJson } from './json-copy.ts';

/** A CAMPAIGN_ERROR naming the campaign. */
export function campaignError(name: string, message: string, cause?: unknown): MatterStackError {
  return new MatterStackError('CAMPAIGN_ERROR', `campaign ${name}: ${message}`, { campaign: name }, cause === undefined ? undefined : { cause });
}

/** The campaign a module exports: named `plan`/`analyze`, a default object with them, or `campaign`. */
export function pickCampaign(name: string, module: Record<string, unknown>): Campaign {
  // `default.default`: a TS campaign outside an ESM package is compiled to CommonJS by tsx.
  const inner = module.default !== null && typeof module.default === 'object' ? (module.default as Record<string, unknown>).default : undefined;
  const candidates: unknown[] = [module, module.default, inner, module.campaign];
  for (const candidate of candidates) {
    if ((candidate !== null && typeof candidate === 'object') || typeof candidate === 'function') {
      const { plan, analyze, maxIterations } = candidate as { plan?: unknown; analyze?: unknown; maxIterations?: unknown };
      if (plan === undefined && analyze === undefined) continue;
      if (typeof plan !== 'function') throw campaignError(name, '`plan` must be a function');
      if (typeof analyze !== 'function') throw campaignError(name, '`analyze` must be a function');
      const limit = maxIterations ?? module.maxIterations;
      // Bind so a default-exported object's methods keep their `this`.
      return {
        plan: plan.bind(candidate) as Campaign['plan'],
        analyze: analyze.bind(candidate) as Campaign['analyze'],
        ...(limit !== undefined ? { maxIterations: limit as number } : {}),
      };
    }
  }
  throw campaignError(name, 'exports neither `plan` and `analyze` nor a default object with them');
}

/** Imports a campaign module and picks its campaign (CAMPAIGN_ERROR when it cannot). */
export async function importCampaign(name: string, href: string): Promise<Campaign> {
  let module: Record<string, unknown>;
  try {
    module = (await import(href)) as Record<string, unknown>;
  } catch (error) {
    throw campaignError(name, `cannot load ${href}: ${(error as Error)?.message ?? String(error)}`, error);
  }
  return pickCampaign(name, module);
}

/**
 * Answers one request with campaign code in this thread: the call's result as a JSON copy, or a
 * failure naming the campaign and the call. Shared by the worker and in-process campaigns, so both
 * check the same things.
 */
export async function answerCampaignRequest(name: string, campaign: AnyCampaign, request: CampaignRequest): Promise<CampaignReply> {
  const { id } = request;
  try {
    if (request.method === 'load') {
      const info = CampaignInfoSchema.safeParse(campaign.maxIterations === undefined ? {} : { maxIterations: campaign.maxIterations });
      if (!info.success) throw campaignError(name, `maxIterations must be a positive integer, got ${JSON.stringify(campaign.maxIterations)}`);
      return { id, ok: true, value: info.data };
    }
    let returned: unknown;
    try {
      returned = request.method === 'plan' ? await campaign.plan(request.state) : await campaign.analyze(request.state, request.results);
    } catch (error) {
      throw campaignError(name, `${request.method} failed: ${(error as Error)?.message ?? String(error)}`, error);
    }
    // A forgotten `return` must not end a campaign silently.
    if (request.method === 'plan' && returned === undefined) throw campaignError(name, 'plan returned undefined; return null when the campaign is finished');
    const what = request.method === 'plan' ? 'workflow' : 'state';
    const copy = copyJson(returned, what);
    if (!copy.ok) throw campaignError(name, `${request.method} returned a ${what} that is not JSON-serialisable: ${copy.problem}`);
    return { id, ok: true, value: copy.value };
  } catch (error) {
    if (isMatterStackError(error)) return { id, ok: false, code: error.code, message: error.message };
    return { id, ok: false, code: 'CAMPAIGN_ERROR', message: `campaign ${name}: ${request.method} failed: ${String(error)}` };
  }
}
