import type { StoredEvent } from '../events/envelope.ts';
import { writersOf, sameWriter, type WriterStamp } from '../events/host-version.ts';
import type { JsonValue } from '../events/json.ts';
import type { RunStatus } from '../events/statuses.ts';
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
} from '../projections/queries.ts';
import { loadOperatorsConfig, type OperatorsConfig } from '../workspace/operators-config.ts';
import type { RunHandle } from '../host/run-lifecycle.ts';
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
  /** `replay --verify` outcome: null when it agrees, else the first diverging seq, why, and who wrote and recomputed it. */
  divergence: { seq: number; message: string; writtenBy: WriterStamp | null; readBy: WriterStamp } | null;
  /** Which MatterStack version (and machines) wrote which records, in log order; `writer` null for records logged before version records. */
  writers: WriterRange[];
}

/** A stretch of the log written by one writer (HOST.VERSION records included: each opens its range). */
export interface WriterRange {
  writer: WriterStamp | null;
  fromSeq: number;
  toSeq: number;
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
  const created = records.find((record) => record.type === 'RUN.CREATED');
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
    runSettings: created?.payload ?? null,
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
      divergence: verify.ok ? null : { seq: verify.seq, message: verify.message, writtenBy: verify.writtenBy, readBy: verify.readBy },
      writers: writerRanges(records),
    },
  };
}

/** The log cut into stretches of one writer each. */
function writerRanges(records: readonly StoredEvent[]): WriterRange[] {
  const writers = writersOf(records);
  const out: WriterRange[] = [];
  for (const [index, record] of records.entries()) {
    const writer = writers[index] ?? null;
    const open = out[out.length - 1];
    if (open !== undefined && sameWriter(open.writer, writer)) open.toSeq = record.seq;
    else out.push({ writer, fromSeq: record.seq, toSeq: record.seq });
  }
  return out;
}

function operatorConfigOf(workspaceDir: string): OperatorsConfig | { error: string } {
  try {
    return loadOperatorsConfig({ workspaceDir });
  } catch (error) {
    // A config broken since the run started must not block exporting what the run did.
    return { error: (error as Error).message };
  }
}
