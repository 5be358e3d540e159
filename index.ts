/**
 * MatterStack's public API: run lifecycle, the event logs, operators and the types campaigns use.
 * @example
 * import { initializeRun, runUntilCompletion } from 'matterstack';
 * const run = await initializeRun({ workspace: 'demos/battery_screening' });
 * console.log(await runUntilCompletion(run));
 * await run.close();
 */
export {
  initializeOrResumeRun,
  initializeRun,
  listActiveRuns,
  openRun,
  RunLifecycleError,
  sendCommand,
} from './host/run-lifecycle.ts';
export { runUntilCompletion, stepRun } from './host/drive-run.ts';
export type {
  CommandReply,
  InitializeOrResumeOptions,
  InitializeRunOptions,
  OpenRunOptions,
  RunHandle,
  StoreOptions,
} from './host/run-lifecycle.ts';
export type { DriveOptions } from './host/drive-run.ts';
export { RunStore } from './host/run-store.ts';
export type { Campaign, TaskResult } from './campaign/campaign.ts';
export type { Operator, OperatorContext, PollResult, SubmitResult, CollectedResults } from './operators/operator.ts';
export { OperatorRegistry } from './operators/operator-registry.ts';
export type { EventLog, AppendResult, FollowOptions, LoggedRun } from './events/event-log.ts';
export { SqliteEventLog } from './storage/sqlite-event-log.ts';
export { JetStreamEventLog } from './storage/jetstream-event-log.ts';
export { MatterStackError, VersionConflictError, isMatterStackError, ERROR_CODES } from './events/errors.ts';
export type { ErrorCode } from './events/errors.ts';
export type { TaskSpecInput as Task, WorkflowInput as Workflow } from './events/workflow.ts';
export type { RunStatus, TaskStatus, AttemptStatus } from './events/statuses.ts';
export type { JsonValue } from './events/json.ts';
