/**
 * `matterstack/testing`: model-based property tests of a campaign (`checkCampaign`), usable from
 * vitest or any runner, and what `matterstack check` prints.
 */
/** fast-check itself, for the arbitraries of `results`, `gateData` and a workspace's campaign.check.ts. */
export { default as fc } from 'fast-check';
export { checkCampaign, formatCheckReport, DEFAULT_RUNS, type CheckCampaignOptions, type CheckFailure, type CheckReport } from './check-campaign.ts';
export type { Invariant, RunView } from './scenario.ts';
export type { TransitionCoverage } from './coverage.ts';
export type { FailureLog } from './failure-log.ts';
export { checkWorkspace, loadWorkspaceChecks, CHECK_FILES, DEFAULT_COMMAND_RUNS, type WorkspaceChecks } from './workspace-checks.ts';
