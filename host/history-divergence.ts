import type { DomainChange } from '../events/changes.ts';
import type { LoggedStateValue } from '../events/envelope.ts';
import { ChangeDescriber, stateText } from '../events/describe-change.ts';
import { MatterStackError } from '../events/errors.ts';
import { writerText, type WriterStamp } from '../events/host-version.ts';
import { sameJson } from '../events/canonical-json.ts';

/** The `to` and `changes` of one record: as logged, or as the current machines compute them. */
export interface TransitionFacts {
  to: LoggedStateValue | null;
  changes: DomainChange[];
}

/**
 * What differs between a record's logged outcome and the one the current machines decide for the
 * same event (`state`, `changes`, `state and changes`), or undefined when they agree. Key order is
 * ignored. Restore and `replay --verify` both judge a record by this.
 */
export function outcomeDifference(logged: TransitionFacts, computed: TransitionFacts): string | undefined {
  const toDiffers = !sameJson(logged.to, computed.to);
  const changesDiffer = !sameJson(logged.changes, computed.changes);
  if (!toDiffers && !changesDiffer) return undefined;
  return toDiffers && changesDiffer ? 'state and changes' : toDiffers ? 'state' : 'changes';
}

/** The first record of a run whose logged outcome the reading version does not reproduce. */
export interface HistoryDivergence {
  runId: string;
  seq: number;
  actor: string;
  type: string;
  logged: TransitionFacts;
  /** What this version decides for the record's event. */
  computed: TransitionFacts;
  /** What differs: `state`, `changes`, or `state and changes`. */
  difference: string;
  /** Who wrote the record (its run's last HOST.VERSION before it; null in logs older than those). */
  writtenBy: WriterStamp | null;
  /** The version reading it now. */
  readBy: WriterStamp;
}

const MAX_OUTCOME = 160;

/** `to waiting, changes [task t1 →FAILED]`, short enough for one line of an error. */
export function outcomeText(facts: TransitionFacts): string {
  const changes = new ChangeDescriber().describe(facts.changes).join('; ');
  const clipped = changes.length > MAX_OUTCOME ? `${changes.slice(0, MAX_OUTCOME - 1)}…` : changes;
  return `to ${stateText(facts.to)}, changes [${clipped}]`;
}

/**
 * HISTORY_DIVERGED: restore re-decided a logged record differently, so this version would host the
 * run on decisions its history never made. Nothing is appended. Names the run, the record, both
 * outcomes, both versions, and the way forward.
 */
export function historyDivergedError(d: HistoryDivergence): MatterStackError {
  const writer = d.writtenBy === null ? 'an unrecorded version' : `MatterStack ${d.writtenBy.version}`;
  const message = [
    `run ${d.runId} is not hosted by ${writerText(d.readBy)}: its history diverges at seq ${d.seq} (${d.actor} ${d.type}): the logged ${d.difference} differ${d.difference.includes(' and ') ? '' : 's'} from this version's.`,
    `Logged by ${writerText(d.writtenBy)}: ${outcomeText(d.logged)}.`,
    `This version: ${outcomeText(d.computed)}.`,
    `Nothing was appended. Host the run with ${writer}, which wrote that record, until it ends; or keep the old`,
    `behaviour for runs logged under it in the new machines (README, "Upgrades and history").`,
    `\`matterstack replay ${d.runId} --verify\` shows the divergence; replay, status, explain and export-evidence still read the run.`,
  ].join('\n');
  return new MatterStackError('HISTORY_DIVERGED', message, {
    runId: d.runId,
    seq: d.seq,
    actor: d.actor,
    type: d.type,
    logged: d.logged,
    computed: d.computed,
    writtenBy: d.writtenBy,
    readBy: d.readBy,
  });
}
