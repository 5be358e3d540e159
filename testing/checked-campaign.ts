import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnyCampaign } from '../campaign/campaign.ts';
import { importCampaign } from '../campaign/campaign-module.ts';
import { loadCampaign, wrapCampaign, type LoadedCampaign } from '../campaign/load-campaign.ts';
import { loadOperatorsConfig } from '../workspace/operators-config.ts';
import { findCampaignFile } from '../workspace/workspace.ts';

/** Where a scenario's story learns what the campaign's own code threw (its class and message). */
export interface ThrowRecorder {
  /** The last throw of plan or analyze, as `analyze threw TypeError: …`, taken once read. */
  take(): string | undefined;
}

/** A campaign for the check: called through the same boundary as the host's, with its throws recorded. */
export interface CheckedCampaign {
  loaded: LoadedCampaign;
  throws: ThrowRecorder;
}

/** Wraps a campaign object so that what plan and analyze throw is recorded before the host sees it. */
function recordingThrows(campaign: AnyCampaign): { campaign: AnyCampaign; throws: ThrowRecorder } {
  let last: string | undefined;
  const guard =
    <A extends unknown[], R>(method: 'plan' | 'analyze', call: (...args: A) => R) =>
    async (...args: A): Promise<Awaited<R>> => {
      try {
        return await call(...args);
      } catch (error) {
        last = `${method} threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
        throw error;
      }
    };
  const wrapped: AnyCampaign = {
    plan: guard('plan', campaign.plan.bind(campaign)),
    analyze: guard('analyze', campaign.analyze.bind(campaign)),
    ...(campaign.maxIterations !== undefined ? { maxIterations: campaign.maxIterations } : {}),
  };
  const take = (): string | undefined => {
    const value = last;
    last = undefined;
    return value;
  };
  return { campaign: wrapped, throws: { take } };
}

/** A campaign object, checked in this thread; a call that does not return within `timeoutMs` fails (CAMPAIGN_TIMEOUT). */
export async function checkedObject(name: string, campaign: AnyCampaign, timeoutMs: number): Promise<CheckedCampaign> {
  const recorded = recordingThrows(campaign);
  return { loaded: await wrapCampaign(name, '(in-process)', recorded.campaign, { timeoutMs }), throws: recorded.throws };
}

/**
 * A workspace's campaign: a TypeScript or JavaScript module is imported into this thread (a
 * scenario makes hundreds of calls: a worker's round trip each would dominate); a command campaign
 * (`campaign.py`, operators.yaml's `campaign.command`) runs as it does under `loop`, a process per call.
 * Either way a call that does not return within `timeoutMs` fails the scenario instead of hanging the check.
 */
export async function checkedWorkspace(workspaceDir: string, name: string, timeoutMs: number): Promise<CheckedCampaign> {
  const file = findCampaignFile(workspaceDir);
  const command = loadOperatorsConfig({ workspaceDir }).campaign?.command;
  if (command !== undefined || file === null || path.extname(file) === '.py') {
    return { loaded: await loadCampaign(workspaceDir, { name, timeoutMs }), throws: { take: () => undefined } };
  }
  return checkedObject(name, await importCampaign(name, pathToFileURL(file).href), timeoutMs);
}
