import type { LoggedStateValue, StoredEvent } from '../events/envelope.ts';
import type { EventLog } from '../events/event-log.ts';
import { isHostVersion, writersOf, type WriterStamp } from '../events/host-version.ts';
import { replay } from '../machines/system.ts';
import { outcomeDifference, type TransitionFacts } from '../host/history-divergence.ts';
import { currentWriter } from '../host/writer-stamp.ts';
import { ChangeDescriber } from '../events/describe-change.ts';
import { readRunRecords } from './read-run-records.ts';
import { summarizeSystem, type SystemSummary } from './run-summary.ts';
import { stepPhases, type StepPhases } from './step-phases.ts';

/** Which records `replayTimeline` keeps (all when empty). */
export interface TimelineFilter {
  /** Exact actor: `run` or an attempt id; a task id also matches all of that task's attempts (`t1` → `t1-a1`, `t1-a2`). */
  actor?: string;
  /** Exact event type (`CMD.PAUSE`), or a prefix ending in `*` or `.` (`CMD.*`, `ATTEMPT.`). */
  type?: string;
  /** First and last sequence to show (inclusive). */
  fromSeq?: number;
  toSeq?: number;
}

/** One record of the log as `replay` shows it. */
export interface TimelineEntry {
  seq: number;
  time: string;
  actor: string;
  type: string;
  from: LoggedStateValue | null;
  to: LoggedStateValue | null;
  /** What changed, one compact sentence per domain change (`task t1 PENDING→RUNNING`). */
  changes: string[];
  /** Set when a long value in `changes` was folded with "…" (only without `whole`). */
  folded?: true;
  /** Records that ran a cycle (RUN.STEP, or a new workflow): what each of the four phases did. */
  phases?: StepPhases;
  /** The MatterStack version and machines that wrote the record (its run's last HOST.VERSION record); null before the first. */
  writtenBy: WriterStamp | null;
}

/**
 * The run's transitions in log order, filtered; every record is read so "before→after" stays right.
 * `whole`: long values are written out (for --json), else folded with "…" and the entry marked `folded`.
 */
export async function replayTimeline(log: EventLog, runId: string, filter: TimelineFilter = {}, options: { whole?: boolean } = {}): Promise<TimelineEntry[]> {
  const records = await readRunRecords(log, runId);
  const describer = new ChangeDescriber(options);
  const phases = stepPhases(records);
  const writers = writersOf(records);
  const out: TimelineEntry[] = [];
  for (const [index, record] of records.entries()) {
    describer.folded = false;
    const changes = describer.describe(record.changes);
    if (!matches(record, filter)) continue;
    const writtenBy = writers[index] ?? null;
    const entry: TimelineEntry = { seq: record.seq, time: record.time, actor: record.actor, type: record.type, from: record.from, to: record.to, changes, writtenBy };
    if (describer.folded) entry.folded = true;
    const step = phases.get(record.seq);
    if (step !== undefined) entry.phases = step;
    out.push(entry);
  }
  return out;
}

function matches(record: StoredEvent, filter: TimelineFilter): boolean {
  if (filter.fromSeq !== undefined && record.seq < filter.fromSeq) return false;
  if (filter.toSeq !== undefined && record.seq > filter.toSeq) return false;
  if (filter.actor !== undefined && record.actor !== filter.actor && !isAttemptOf(record.actor, filter.actor)) return false;
  if (filter.type !== undefined) {
    const prefix = filter.type.endsWith('*') ? filter.type.slice(0, -1) : filter.type.endsWith('.') ? filter.type : null;
    if (prefix !== null ? !record.type.startsWith(prefix) : record.type !== filter.type) return false;
  }
  return true;
}

/** True when `actor` is an attempt of task `taskId` (`<taskId>-a<n>`). */
function isAttemptOf(actor: string, taskId: string): boolean {
  return actor.startsWith(`${taskId}-a`) && /^\d+$/.test(actor.slice(taskId.length + 2));
}

/** The state of the run right after record `seq`. */
export interface StateAt extends SystemSummary {
  /** The last record folded (≤ the asked seq; the run's last seq when it asked beyond). */
  seq: number;
  time: string | null;
}

/** Folds the records up to `seq` (inclusive) through the current machines and summarises the run there. */
export async function stateAt(log: EventLog, runId: string, seq: number): Promise<StateAt> {
  const records = await readRunRecords(log, runId, seq);
  const system = replay(records);
  const last = records[records.length - 1];
  return { seq: last?.seq ?? 0, time: last?.time ?? null, ...summarizeSystem(system) };
}

export type { TransitionFacts } from '../host/history-divergence.ts';

/** The outcome of `verifyReplay`: every record agrees, or the first one that does not. */
export type VerifyResult =
  | { ok: true; events: number; lastSeq: number }
  | {
      ok: false;
      seq: number;
      actor: string;
      type: string;
      /** What the log recorded. */
      expected: TransitionFacts;
      /** What the current machines compute for the same event (null when they refuse it). */
      actual: TransitionFacts | null;
      message: string;
      /** Who wrote the record (null in logs older than version records), and who recomputed it. */
      writtenBy: WriterStamp | null;
      readBy: WriterStamp;
    };

/** Private signal that stops the fold at the first divergence. */
class Divergence extends Error {}

/**
 * Re-runs every record through the current machines and compares the logged `to` state and
 * `changes` with the recomputed ones (key order ignored); reports the first record that differs —
 * a changed machine, a non-deterministic one, or a tampered log.
 */
export async function verifyReplay(log: EventLog, runId: string): Promise<VerifyResult> {
  const records = await readRunRecords(log, runId);
  const writers = writersOf(records);
  const readBy = currentWriter();
  let failure: Extract<VerifyResult, { ok: false }> | undefined;
  let next = 0;
  try {
    replay(records, (step) => {
      next = step.index + 1;
      const record = records[step.index] as StoredEvent;
      const what = outcomeDifference(record, step);
      if (what === undefined) return;
      failure = {
        ok: false,
        seq: record.seq,
        actor: record.actor,
        type: record.type,
        expected: { to: record.to, changes: record.changes },
        actual: { to: step.to, changes: step.changes },
        message: `seq ${record.seq} (${record.actor} ${record.type}): the logged ${what} differ${what.includes(' and ') ? '' : 's'} from what the current machines compute`,
        writtenBy: writers[step.index] ?? null,
        readBy,
      };
      throw new Divergence();
    });
  } catch (error) {
    if (!(error instanceof Divergence)) {
      // The machines refuse a logged event (e.g. invalid payload, impossible order): that is a divergence too.
      // The record that threw is the first after the last step seen that is an actor's (HOST.VERSION
      // records change none, and writersOf has validated them).
      while (records[next] !== undefined && isHostVersion(records[next] as StoredEvent)) next += 1;
      const at = records[next];
      if (at === undefined) throw error;
      return {
        ok: false,
        seq: at.seq,
        actor: at.actor,
        type: at.type,
        expected: { to: at.to, changes: at.changes },
        actual: null,
        message: `seq ${at.seq} (${at.actor} ${at.type}): the current machines refuse this record: ${(error as Error).message}`,
        writtenBy: writers[next] ?? null,
        readBy,
      };
    }
  }
  if (failure !== undefined) return failure;
  const last = records[records.length - 1];
  return { ok: true, events: records.length, lastSeq: last?.seq ?? 0 };
}
