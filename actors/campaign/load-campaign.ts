import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MatterStackError } from '../../events/errors.ts';
import { JsonValueSchema, type JsonValue } from '../../events/json.ts';
import { findCampaignFile, CAMPAIGN_FILES } from '../workspace.ts';
import type { Campaign, TaskResult } from './campaign.ts';

/** A campaign module loaded from a workspace, with its calls checked at the boundary. */
export interface LoadedCampaign {
  /** Named in errors: the workspace folder name (or the caller's choice). */
  name: string;
  file: string;
  /** The raw workflow the campaign returned (validate with `validateWorkflow`), or null when finished. */
  plan(state: JsonValue | null): Promise<unknown>;
  /** The new state, checked to be JSON (CAMPAIGN_ERROR otherwise). */
  analyze(state: JsonValue | null, results: Record<string, TaskResult>): Promise<JsonValue>;
}

function campaignError(name: string, message: string, cause?: unknown): MatterStackError {
  return new MatterStackError('CAMPAIGN_ERROR', `campaign ${name}: ${message}`, { campaign: name }, cause === undefined ? undefined : { cause });
}

/** Where a value stops being JSON, or null when it is JSON (no undefined, functions, NaN, cycles, class instances). */
export function findNonJson(value: unknown, where = 'state', seen: Set<object> = new Set()): string | null {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? null : `${where} is ${value}`;
  if (typeof value !== 'object') return `${where} is ${typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`}`;
  if (seen.has(value)) return `${where} is a circular reference`;
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i += 1) {
        const bad = findNonJson(value[i], `${where}[${i}]`, seen);
        if (bad) return bad;
      }
      return null;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return `${where} is a ${(value as object).constructor?.name ?? 'non-plain'} object`;
    for (const [key, item] of Object.entries(value)) {
      const bad = findNonJson(item, `${where}.${key}`, seen);
      if (bad) return bad;
    }
    return null;
  } finally {
    seen.delete(value);
  }
}

/** Checks that `state` is exactly JSON; CAMPAIGN_ERROR naming the campaign and the offending place. */
export function assertJsonState(name: string, state: unknown): JsonValue {
  const bad = findNonJson(state);
  if (bad !== null) throw campaignError(name, `analyze returned a state that is not JSON-serialisable: ${bad}`);
  return JsonValueSchema.parse(state);
}

function pickCampaign(name: string, module: Record<string, unknown>): Campaign {
  // `default.default`: a TS campaign outside an ESM package is compiled to CommonJS by tsx.
  const inner = module.default !== null && typeof module.default === 'object' ? (module.default as Record<string, unknown>).default : undefined;
  const candidates: unknown[] = [module, module.default, inner, module.campaign];
  for (const candidate of candidates) {
    if ((candidate !== null && typeof candidate === 'object') || typeof candidate === 'function') {
      const { plan, analyze } = candidate as { plan?: unknown; analyze?: unknown };
      if (plan === undefined && analyze === undefined) continue;
      if (typeof plan !== 'function') throw campaignError(name, '`plan` must be a function');
      if (typeof analyze !== 'function') throw campaignError(name, '`analyze` must be a function');
      // Bind so a default-exported object's methods keep their `this`.
      return { plan: plan.bind(candidate) as Campaign['plan'], analyze: analyze.bind(candidate) as Campaign['analyze'] };
    }
  }
  throw campaignError(name, 'exports neither `plan` and `analyze` nor a default object with them');
}

/**
 * Imports `campaign.ts` / `campaign.js` / `campaign.mjs` from `workspaceDir` (TypeScript works
 * because the process runs under tsx) and wraps it: plan/analyze errors become CAMPAIGN_ERROR.
 */
export async function loadCampaign(workspaceDir: string, options: { name?: string } = {}): Promise<LoadedCampaign> {
  const name = options.name ?? path.basename(path.resolve(workspaceDir));
  const file = findCampaignFile(workspaceDir);
  if (file === null) {
    throw new MatterStackError('WORKSPACE_NOT_FOUND', `campaign ${name}: ${workspaceDir} has no ${CAMPAIGN_FILES.join(' / ')}`, { campaign: name, dir: workspaceDir });
  }
  // No cache-busting query: loaders (vite, tsx) pick the TypeScript transform by extension, and a
  // query hides it. An edited campaign is therefore seen by the next process, not this one.
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw campaignError(name, `cannot load ${file}: ${(error as Error).message}`, error);
  }
  return wrapCampaign(name, file, pickCampaign(name, module));
}

/** Wraps campaign code so its calls are checked at the boundary (errors → CAMPAIGN_ERROR, state must be JSON). */
export function wrapCampaign(name: string, file: string, campaign: Campaign): LoadedCampaign {
  return {
    name,
    file,
    async plan(state) {
      let workflow: unknown;
      try {
        workflow = await campaign.plan(state);
      } catch (error) {
        throw campaignError(name, `plan failed: ${(error as Error)?.message ?? String(error)}`, error);
      }
      // A forgotten `return` must not end a campaign silently.
      if (workflow === undefined) throw campaignError(name, 'plan returned undefined; return null when the campaign is finished');
      return workflow;
    },
    async analyze(state, results) {
      let next: unknown;
      try {
        next = await campaign.analyze(state, results);
      } catch (error) {
        throw campaignError(name, `analyze failed: ${(error as Error)?.message ?? String(error)}`, error);
      }
      return assertJsonState(name, next);
    },
  };
}
