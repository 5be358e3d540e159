import type { JsonValue } from '../../events/json.ts';
import type { RunStatus } from '../../events/statuses.ts';
import {
  getCampaignStates,
  getRun,
  listAttempts,
  listCommands,
  listTasks,
  type AttemptView,
  type CampaignStateView,
  type CommandView,
  type RunView,
  type TaskView,
} from '../../projections/queries.ts';
import { loadOperatorsConfig, type OperatorsConfig } from '../config/operators-config.ts';
import type { RunHandle } from '../run-lifecycle.ts';
import { readRunRecords } from './read-run-records.ts';
import { verifyReplay } from './replay-run.ts';

export const EVIDENCE_FORMAT_VERSION = 1;

/** The log behind the evidence: how much of it, when, and whether the current machines replay it. */
export interface LogSummary {
  events: number;
  lastSeq: number;
  firstTime: string | null;
  lastTime: string | null;
  /** Records per event type. */
  byType: Record<string, number>;
  /** `replay --verify` outcome: null when it agrees, else the first diverging seq and why. */
  divergence: { seq: number; message: string } | null;
}

/** Everything a reviewer needs to audit a run, rebuilt from its log (SPEC §4 evidence export). */
export interface EvidenceBundle {
  formatVersion: number;
  runId: string;
  workspace: string | null;
  outcome: { status: RunStatus; reason: string | null; iteration: number | null; startedAt: string | null; endedAt: string | null };
  run: RunView;
  /** The settings RUN.CREATED fixed for the run (caps, routing). */
  runSettings: JsonValue;
  tasks: TaskView[];
  /** Every attempt of every task, oldest first. */
  attempts: AttemptView[];
  campaignStates: CampaignStateView[];
  /** Accepted and rejected commands, in log order. */
  commands: CommandView[];
  /** The workspace's operators config as it is now (or the error reading it). */
  operatorConfig: OperatorsConfig | { error: string };
  log: LogSummary;
}

/** What `buildEvidence` needs of an open run. */
export type EvidenceTarget = Pick<RunHandle, 'runId' | 'store' | 'workspaceDir' | 'runDir'>;

/** Builds the evidence bundle from the log (projections caught up first); no clock is read, so it is reproducible. */
export async function buildEvidence(handle: EvidenceTarget): Promise<EvidenceBundle> {
  const views = await handle.store.views();
  const records = await readRunRecords(handle.store.log, handle.runId);
  const run = getRun(views, handle.runId);
  if (run === undefined) throw new Error(`internal: projections have no run ${handle.runId} after catching up`);
  const byType: Record<string, number> = {};
  for (const record of records) byType[record.type] = (byType[record.type] ?? 0) + 1;
  const first = records[0];
  const last = records[records.length - 1];
  const verify = await verifyReplay(handle.store.log, handle.runId);
  const terminal = run.status === 'COMPLETED' || run.status === 'FAILED' || run.status === 'CANCELLED';
  return {
    formatVersion: EVIDENCE_FORMAT_VERSION,
    runId: handle.runId,
    workspace: run.workspace,
    outcome: {
      status: run.status,
      reason: run.statusReason,
      iteration: run.iteration,
      startedAt: run.createdAt,
      endedAt: terminal ? run.updatedAt : null,
    },
    run,
    runSettings: first?.type === 'RUN.CREATED' ? first.payload : null,
    tasks: listTasks(views, handle.runId),
    attempts: listAttempts(views, handle.runId),
    campaignStates: getCampaignStates(views, handle.runId),
    commands: listCommands(views, handle.runId),
    operatorConfig: operatorConfigOf(handle.workspaceDir),
    log: {
      events: records.length,
      lastSeq: last?.seq ?? 0,
      firstTime: first?.time ?? null,
      lastTime: last?.time ?? null,
      byType,
      divergence: verify.ok ? null : { seq: verify.seq, message: verify.message },
    },
  };
}

function operatorConfigOf(workspaceDir: string): OperatorsConfig | { error: string } {
  try {
    return loadOperatorsConfig({ workspaceDir });
  } catch (error) {
    // A config broken since the run started must not block exporting what the run did.
    return { error: (error as Error).message };
  }
}
