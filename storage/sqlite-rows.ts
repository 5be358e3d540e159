import type { ChangeRecord, StoredEvent } from '../events/envelope.ts';
import { upcastStoredRecord } from '../events/upcast.ts';
import { invalidStoredRecord, validateChangeRecord, validateStoredEvent } from '../events/validate-events.ts';

export type { ChangeRecord } from '../events/envelope.ts';

// The rows of the SQLite log's `events` table, as `.raw()` statements return them, decoded and
// validated into records: every column read is checked, a corrupt row is never skipped.

/** A row as `.raw()` statements return it: the columns of COLUMNS in order. */
export type RawRow = [
  position: number,
  runId: string,
  seq: number,
  eventId: string,
  type: string,
  actor: string,
  time: string,
  payload: string,
  fromState: string | null,
  toState: string | null,
  changes: string,
  schemaVersion: number,
];

export const COLUMNS = 'position, run_id, seq, event_id, type, actor, time, payload, from_state, to_state, changes, schema_version';

/**
 * The columns of a ChangeRecord, as `.raw()` returns them, and whether the payload is JSON: SQLite
 * checks it without handing it over, so a record with a corrupt payload is refused, not skipped.
 */
export type RawChangeRow = [position: number, runId: string, seq: number, actor: string, time: string, changes: string, schemaVersion: number, payloadIsJson: number];
export const CHANGE_COLUMNS = 'position, run_id, seq, actor, time, changes, schema_version, json_valid(payload)';

function parseRawColumn(row: RawRow, column: string, text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw invalidStoredRecord(row[1], row[2], `${column}: not JSON`, error);
  }
}

/** A full row decoded, upcast to the current shape (events/upcast.ts) and validated: INVALID_EVENT naming run and sequence when it is corrupt. */
export function rawRowToEvent(row: RawRow): StoredEvent {
  return validateStoredEvent(upcastStoredRecord({
    runId: row[1],
    seq: row[2],
    position: row[0],
    schemaVersion: row[11],
    eventId: row[3],
    type: row[4],
    actor: row[5],
    time: row[6],
    payload: parseRawColumn(row, 'payload', row[7]),
    from: parseRawColumn(row, 'from', row[8]),
    to: parseRawColumn(row, 'to', row[9]),
    changes: parseRawColumn(row, 'changes', row[10]),
  }));
}

/** Placeholders for the columns a ChangeRecord does not read (an upcaster sees a whole record). */
const UNREAD_ID = 'unread';

/** Parses and validates the columns of a ChangeRecord; a corrupt record is INVALID_EVENT naming its run and sequence, never skipped. */
function changeRecord(position: unknown, runId: unknown, seq: unknown, actor: unknown, time: unknown, text: unknown, schemaVersion: unknown): ChangeRecord {
  let changes: unknown;
  try {
    changes = JSON.parse(text as string) as unknown;
  } catch (error) {
    throw invalidStoredRecord(runId, seq, 'changes: not JSON', error);
  }
  // Upcast like a full read, so that an upcaster of the changes serves projections too (the columns not read are placeholders).
  const record = upcastStoredRecord({ runId, seq, position, schemaVersion, eventId: UNREAD_ID, type: UNREAD_ID, actor, time, payload: null, from: null, to: null, changes });
  return validateChangeRecord({
    runId: record.runId,
    seq: record.seq,
    position: record.position,
    schemaVersion: record.schemaVersion,
    actor: record.actor,
    time: record.time,
    changes: record.changes,
  });
}

/** A change row decoded and validated like a full one (its payload only checked to be JSON). */
export function rawChangeRowToRecord(row: RawChangeRow): ChangeRecord {
  if (row[7] !== 1) throw invalidStoredRecord(row[1], row[2], 'payload: not JSON');
  return changeRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6]);
}
