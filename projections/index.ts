/** The public face of the projections: the projector, the read queries and the schema helpers. */
export { Projector, type ApplyOptions, type ApplyResult, type ProjectorOptions } from './projector.ts';
export {
  getCampaignStates,
  getRun,
  getRunStatus,
  listAttempts,
  listCommands,
  listRuns,
  listTasks,
  type AttemptView,
  type CampaignStateView,
  type CommandView,
  type RunStatusView,
  type RunView,
  type TaskView,
} from './queries.ts';
export { createSchema, dropSchema, PROJECTION_SCHEMA_VERSION, PROJECTION_TABLES } from './schema.ts';
