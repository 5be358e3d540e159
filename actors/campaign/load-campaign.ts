import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MatterStackError } from '../../events/errors.ts';
import type { JsonValue } from '../../events/json.ts';
import { findCampaignFile, CAMPAIGN_FILES } from '../workspace.ts';
import type { AnyCampaign, TaskResult } from './campaign.ts';
import { CampaignWorker, callInProcess, campaignTimeoutMs, type CampaignCall } from './campaign-call.ts';
import { answerCampaignRequest } from './campaign-module.ts';
import { CampaignInfoSchema } from './campaign-protocol.ts';

/** A campaign ready to be called, with its calls checked at the boundary. Close it when done. */
export interface LoadedCampaign {
  /** Named in errors: the workspace folder name (or the caller's choice). */
  name: string;
  file: string;
  /** The campaign's own cap on planned workflows, if it sets one. */
  maxIterations?: number;
  /** The workflow the campaign returned as a JSON copy (validate with `validateWorkflow`), or null when finished. */
  plan(state: JsonValue | null): Promise<JsonValue>;
  /** The new state, checked to be JSON (CAMPAIGN_ERROR otherwise). */
  analyze(state: JsonValue | null, results: Record<string, TaskResult>): Promise<JsonValue>;
  /** Ends the campaign's worker, if it has one. */
  close(): Promise<void>;
}

/** Options of `loadCampaign` and `wrapCampaign`. */
export interface CampaignOptions {
  name?: string;
  /** Limit of one plan/analyze call (default: MATTERSTACK_CAMPAIGN_TIMEOUT_MS, else 10 minutes). */
  timeoutMs?: number;
}

function loaded(name: string, file: string, maxIterations: number | undefined, call: (request: CampaignCall) => Promise<JsonValue>, close: () => Promise<void>): LoadedCampaign {
  return {
    name,
    file,
    ...(maxIterations !== undefined ? { maxIterations } : {}),
    plan: (state) => call({ method: 'plan', state }),
    analyze: (state, results) => call({ method: 'analyze', state, results }),
    close,
  };
}

function campaignFileOf(workspaceDir: string, options: CampaignOptions): { name: string; file: string } {
  const name = options.name ?? path.basename(path.resolve(workspaceDir));
  const file = findCampaignFile(workspaceDir);
  if (file === null) {
    throw new MatterStackError('WORKSPACE_NOT_FOUND', `campaign ${name}: ${workspaceDir} has no ${CAMPAIGN_FILES.join(' / ')}`, { campaign: name, dir: workspaceDir });
  }
  return { name, file };
}

/**
 * `loadCampaign` on the first call, not before: a host that steps a run once often calls no
 * campaign at all, and should not pay for starting a worker. The campaign file must exist now.
 */
export function deferCampaign(workspaceDir: string, options: CampaignOptions = {}): LoadedCampaign {
  const { name, file } = campaignFileOf(workspaceDir, options);
  let loading: Promise<LoadedCampaign> | undefined;
  const campaign = (): Promise<LoadedCampaign> => (loading ??= loadCampaign(workspaceDir, options));
  return {
    name,
    file,
    plan: async (state) => (await campaign()).plan(state),
    analyze: async (state, results) => (await campaign()).analyze(state, results),
    close: async () => {
      // A load that failed has nothing to close.
      await (await loading?.catch(() => undefined))?.close();
    },
  };
}

/**
 * Loads `campaign.ts` / `campaign.js` / `campaign.mjs` from `workspaceDir` into a worker thread
 * of its own (TypeScript through tsx): its plan and analyze run off the host's event loop, each
 * within the timeout. A module that cannot load or exports no campaign is a CAMPAIGN_ERROR.
 */
export async function loadCampaign(workspaceDir: string, options: CampaignOptions = {}): Promise<LoadedCampaign> {
  const { name, file } = campaignFileOf(workspaceDir, options);
  // No cache-busting query: loaders (vite, tsx) pick the TypeScript transform by extension, and a
  // query hides it. Each worker imports the module afresh, so an edited campaign is seen by the next run.
  const worker = new CampaignWorker(name, pathToFileURL(file).href, campaignTimeoutMs(options.timeoutMs));
  try {
    const info = CampaignInfoSchema.parse(await worker.call({ method: 'load' }));
    return loaded(name, file, info.maxIterations, (request) => worker.call(request), () => worker.close());
  } catch (error) {
    await worker.close();
    throw error;
  }
}

/**
 * Wraps a campaign object handed to the library API. It stays in the caller's thread (an object
 * cannot move to a worker): a promise that never settles still fails after the timeout, but a
 * synchronous endless loop blocks the caller — put such code in a workspace campaign file.
 */
export async function wrapCampaign(name: string, file: string, campaign: AnyCampaign, options: CampaignOptions = {}): Promise<LoadedCampaign> {
  const timeoutMs = campaignTimeoutMs(options.timeoutMs);
  const info = await answerCampaignRequest(name, campaign, { id: 0, method: 'load' });
  if (!info.ok) throw new MatterStackError(info.code, info.message);
  const { maxIterations } = CampaignInfoSchema.parse(info.value);
  return loaded(name, file, maxIterations, (request) => callInProcess(name, campaign, request, timeoutMs), async () => undefined);
}
