import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MatterStackError } from '../events/errors.ts';
import type { JsonValue } from '../events/json.ts';
import { loadOperatorsConfig } from '../workspace/operators-config.ts';
import { findCampaignFile } from '../workspace/workspace.ts';
import { checkCampaign, DEFAULT_RUNS, type CheckCampaignOptions, type CheckReport } from './check-campaign.ts';

/** What a workspace's `campaign.check.ts` exports (default): how its tasks report, and its invariants. */
export type WorkspaceChecks<State = JsonValue> = Pick<CheckCampaignOptions<State>, 'results' | 'gateData' | 'invariants' | 'runs' | 'maxIterations' | 'maxCycles' | 'callTimeoutMs'>;

/** The files a workspace's checks may live in, in the order they are looked up. */
export const CHECK_FILES = ['campaign.check.ts', 'campaign.check.js', 'campaign.check.mjs'] as const;

/** Scenarios by default for a campaign run as a command (campaign.py): each call starts a process. */
export const DEFAULT_COMMAND_RUNS = 10;

/** The workspace's checks (its `campaign.check.ts`), or none. */
export async function loadWorkspaceChecks(workspaceDir: string): Promise<WorkspaceChecks<never>> {
  const file = CHECK_FILES.map((name) => path.join(workspaceDir, name)).find((candidate) => existsSync(candidate));
  if (file === undefined) return {};
  const module = (await import(pathToFileURL(file).href)) as { default?: unknown };
  const checks = module.default;
  if (checks === null || typeof checks !== 'object') {
    throw new MatterStackError('CAMPAIGN_ERROR', `${file}: its default export must be an object of check options ({ results, gateData, invariants, runs })`, { file });
  }
  return checks as WorkspaceChecks<never>;
}

/** True when the workspace's campaign runs as a command (a process per call). */
function runsAsCommand(workspaceDir: string): boolean {
  if (loadOperatorsConfig({ workspaceDir }).campaign?.command !== undefined) return true;
  return path.extname(findCampaignFile(workspaceDir) ?? '') === '.py';
}

/**
 * `matterstack check`: the workspace's campaign checked with its own `campaign.check.ts`. Runs: the
 * caller's, else the file's, else 100 (10 for a campaign run as a command, slower per call).
 */
export async function checkWorkspace(workspaceDir: string, options: Pick<CheckCampaignOptions, 'runs' | 'seed' | 'logDir' | 'name'> = {}): Promise<CheckReport> {
  const checks = await loadWorkspaceChecks(workspaceDir);
  const runs = options.runs ?? checks.runs ?? (runsAsCommand(workspaceDir) ? DEFAULT_COMMAND_RUNS : DEFAULT_RUNS);
  return checkCampaign({ ...checks, ...options, runs, workspace: workspaceDir } as CheckCampaignOptions);
}
