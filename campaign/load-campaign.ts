import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MatterStackError } from '../events/errors.ts';
import type { JsonValue } from '../events/json.ts';
import { loadOperatorsConfig } from '../workspace/operators-config.ts';
import { findCampaignFile, CAMPAIGN_NEEDED } from '../workspace/workspace.ts';
import type { AnyCampaign, TaskResult } from './campaign.ts';
import { CampaignWorker, callInProcess, campaignTimeoutMs, type CampaignCall } from './campaign-call.ts';
import { answerCampaignRequest, campaignError } from './campaign-module.ts';
import { CampaignInfoSchema, type CallContext, type CampaignInfo } from './campaign-protocol.ts';
import { CommandCampaign } from './command-campaign.ts';

/** A campaign ready to be called, with its calls checked at the boundary. Close it when done. */
export interface LoadedCampaign {
  /** Named in errors: the workspace folder name (or the caller's choice). */
  name: string;
  file: string;
  /** The campaign's own cap on planned workflows, if it sets one. */
  maxIterations?: number;
  /** The workflow the campaign returned as a JSON copy (validate with `validateWorkflow`), or null when finished. */
  plan(state: JsonValue | null, context?: CallContext): Promise<JsonValue>;
  /** The new state, checked to be JSON (CAMPAIGN_ERROR otherwise). */
  analyze(state: JsonValue | null, results: Record<string, TaskResult>, context?: CallContext): Promise<JsonValue>;
  /** Ends the campaign's worker (or kills the processes of a command's calls still out). */
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
    plan: (state, context) => call({ method: 'plan', state, ...context }),
    analyze: (state, results, context) => call({ method: 'analyze', state, results, ...context }),
    close,
  };
}

/** Where a workspace's campaign comes from; `command`: run it as a process per call. */
interface CampaignSource {
  name: string;
  /** The campaign file, or operators.yaml for a configured command. */
  file: string;
  command?: [string, ...string[]];
  timeoutMs: number;
}

/** The interpreter of `campaign.py`: $MATTERSTACK_PYTHON, else python3. */
function pythonOf(env: NodeJS.ProcessEnv = process.env): string {
  return env.MATTERSTACK_PYTHON !== undefined && env.MATTERSTACK_PYTHON !== '' ? env.MATTERSTACK_PYTHON : 'python3';
}

/**
 * The workspace's campaign: the command of operators.yaml's `campaign` section, else its campaign
 * file (`campaign.py` runs as a command with python3), with the call timeout that applies.
 */
function campaignSourceOf(workspaceDir: string, options: CampaignOptions): CampaignSource {
  const name = options.name ?? path.basename(path.resolve(workspaceDir));
  const section = loadOperatorsConfig({ workspaceDir }).campaign;
  const timeoutMs = campaignTimeoutMs(options.timeoutMs, section?.timeoutMs);
  if (section?.command !== undefined) return { name, file: path.join(workspaceDir, 'operators.yaml'), command: section.command, timeoutMs };
  const file = findCampaignFile(workspaceDir);
  if (file === null) {
    throw new MatterStackError('WORKSPACE_NOT_FOUND', `campaign ${name}: ${workspaceDir} has no ${CAMPAIGN_NEEDED}`, { campaign: name, dir: workspaceDir });
  }
  // Relative to the workspace folder, the command's working directory: tracebacks name "campaign.py".
  if (path.basename(file) === 'campaign.py') return { name, file, command: [pythonOf(), 'campaign.py'], timeoutMs };
  return { name, file, timeoutMs };
}

/** A command campaign's answer to `load`, or CAMPAIGN_ERROR naming what is wrong with it. */
function commandInfo(name: string, value: JsonValue): CampaignInfo {
  const info = CampaignInfoSchema.safeParse(value);
  if (info.success) return info.data;
  const issue = info.error.issues[0]!;
  throw campaignError(name, `load replied an invalid value: field ${issue.path.map(String).join('.') || (issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : '(value)')}: ${issue.message}`);
}

/**
 * `loadCampaign` on the first call, not before: a host that steps a run once often calls no
 * campaign at all, and should not pay for starting a worker. The campaign file must exist now.
 */
export function deferCampaign(workspaceDir: string, options: CampaignOptions = {}): LoadedCampaign {
  const { name, file, command, timeoutMs } = campaignSourceOf(workspaceDir, options);
  // A command starts nothing before its first call anyway.
  if (command !== undefined) {
    const runner = new CommandCampaign(name, command, workspaceDir, timeoutMs);
    return loaded(name, file, undefined, (request) => runner.call(request), () => runner.close());
  }
  let loading: Promise<LoadedCampaign> | undefined;
  const campaign = (): Promise<LoadedCampaign> => (loading ??= loadCampaign(workspaceDir, options));
  return {
    name,
    file,
    plan: async (state, context) => (await campaign()).plan(state, context),
    analyze: async (state, results, context) => (await campaign()).analyze(state, results, context),
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
 * A campaign run as a command (`campaign.py`, operators.yaml's `campaign.command`) is asked `load` once.
 */
export async function loadCampaign(workspaceDir: string, options: CampaignOptions = {}): Promise<LoadedCampaign> {
  const { name, file, command, timeoutMs } = campaignSourceOf(workspaceDir, options);
  if (command !== undefined) {
    const runner = new CommandCampaign(name, command, workspaceDir, timeoutMs);
    const info = commandInfo(name, await runner.call({ method: 'load' }));
    return loaded(name, file, info.maxIterations, (request) => runner.call(request), () => runner.close());
  }
  // No cache-busting query: loaders (vite, tsx) pick the TypeScript transform by extension, and a
  // query hides it. Each worker imports the module afresh, so an edited campaign is seen by the next run.
  const worker = new CampaignWorker(name, pathToFileURL(file).href, timeoutMs);
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
