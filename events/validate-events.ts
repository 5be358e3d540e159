import { z } from 'zod';
import { ChangeRecordSchema, StoredEventSchema, type ChangeRecord, type StoredEvent, type ValidNewEvent } from './envelope.ts';
import { MatterStackError } from './errors.ts';
import { isValidId } from './ids.ts';
import { restoredPayload } from './results-once.ts';
import { compileGuard } from './schema-guard.ts';

/*
 * The log's trust boundary is the read: every record read back is validated against the zod
 * schemas (through guards compiled from them, events/schema-guard.ts), and a bad one is an error
 * naming its run, sequence and field. An append is not validated again: its records are the
 * host's own, built from events validated where they entered (commands, campaign output, results
 * files, config) and typed as the log's normal form. The append checks only what keeps the log
 * itself consistent: the run id it files them under, the expected sequence, unique event ids.
 */

/**
 * Checks the arguments of an append that the log relies on (the records themselves are trusted):
 * throws MatterStackError INVALID_EVENT naming the field, before anything is written.
 */
export function checkAppend(runId: string, events: readonly ValidNewEvent[], expectedSeq: number): void {
  if (!isValidId(runId)) {
    throw new MatterStackError('INVALID_EVENT', `runId ${JSON.stringify(runId)}: must be 1-64 letters, digits, "_" or "-"`, { field: 'runId' });
  }
  if (!Number.isSafeInteger(expectedSeq) || expectedSeq < 0) {
    throw new MatterStackError('INVALID_EVENT', `expectedSeq: must be a non-negative integer, got ${String(expectedSeq)}`, { field: 'expectedSeq' });
  }
  if (!Array.isArray(events)) throw new MatterStackError('INVALID_EVENT', 'events: must be an array', { field: 'events' });
  // A single event cannot repeat an id: no set for the common one-event append.
  if (events.length < 2) return;
  const ids = new Set<string>();
  for (let i = 0; i < events.length; i++) {
    const id = events[i]!.eventId;
    if (ids.has(id)) {
      throw new MatterStackError('INVALID_EVENT', `run ${runId}: events[${i}].eventId: duplicate id ${id} in the batch`, { runId, index: i });
    }
    ids.add(id);
  }
}

/** Clips text that came from a record (a key, a zod message quoting keys) so an error stays one readable line. */
function clipped(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** One step of an issue's path: `.name` for a plain key, `["quoted"]` for any other (newlines, 200,000 characters). */
function pathPart(part: PropertyKey): string {
  if (typeof part === 'number') return `[${part}]`;
  const key = String(part);
  return /^[A-Za-z_$][\w$]{0,63}$/.test(key) ? `.${key}` : `[${clipped(JSON.stringify(key), 60)}]`;
}

/** The first issue as `path: message` (the path without a leading dot). */
function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid';
  return `${issue.path.map(pathPart).join('').replace(/^\./, '')}: ${clipped(issue.message, 300)}`;
}

/** What a backend read for one record, before validation (JSON columns already parsed). */
export interface RawStoredRecord {
  runId: unknown;
  seq: unknown;
  position: unknown;
  schemaVersion: unknown;
  eventId: unknown;
  type: unknown;
  actor: unknown;
  time: unknown;
  payload: unknown;
  from: unknown;
  to: unknown;
  changes: unknown;
}

/** A run id or sequence read from a damaged record, fit for a one-line message: quoted and shortened unless it is well-formed. */
function shownColumn(value: unknown): string {
  if ((typeof value === 'string' && (isValidId(value) || value === '?')) || typeof value === 'number') return String(value);
  return clipped(JSON.stringify(String(value)), 80);
}

/** Builds the INVALID_EVENT error for a record that cannot be read back. */
export function invalidStoredRecord(runId: unknown, seq: unknown, reason: string, cause?: unknown): MatterStackError {
  return new MatterStackError(
    'INVALID_EVENT',
    `invalid record in the event log: run ${shownColumn(runId)} seq ${shownColumn(seq)}: ${reason}`,
    { runId, seq },
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Parses a record read back with `schema`: the record itself when its guard accepts it (what zod
 * would return), else zod's output (defaults filled in), else INVALID_EVENT naming run, sequence
 * and field. A stored record always carries its changes: zod's default for them is not taken.
 */
function parseStored<T>(schema: z.ZodType<T>, guard: (value: unknown) => boolean, raw: { runId: unknown; seq: unknown; changes: unknown }): T {
  if (guard(raw)) return raw as T;
  const result = schema.safeParse(raw);
  if (result.success && Array.isArray(raw.changes)) return result.data;
  throw invalidStoredRecord(raw.runId, raw.seq, result.success ? 'changes: missing' : describeIssue(result.error));
}

const isStoredEvent = compileGuard(StoredEventSchema);

/**
 * Validates one record read back from a backend. An invalid record is an error (INVALID_EVENT)
 * naming its run and sequence: it is never skipped, since a gap would silently change history.
 */
export function validateStoredEvent(raw: RawStoredRecord): StoredEvent {
  const event = parseStored(StoredEventSchema, isStoredEvent, raw);
  const payload = restoredPayload(event.type, event.actor, event.payload, event.changes);
  if (payload === undefined) throw invalidStoredRecord(event.runId, event.seq, 'payload: refers to results its changes do not carry');
  if (payload !== event.payload) event.payload = payload;
  return event;
}

const isChangeRecord = compileGuard(ChangeRecordSchema);

/** Validates the columns of a ChangeRecord read back, as `validateStoredEvent` validates them in a full record. */
export function validateChangeRecord(raw: Record<keyof ChangeRecord, unknown>): ChangeRecord {
  return parseStored(ChangeRecordSchema, isChangeRecord, raw);
}
