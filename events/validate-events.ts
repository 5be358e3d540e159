import { z } from 'zod';
import { DomainChangeSchema, type DomainChange } from './changes.ts';
import { NewEventSchema, StoredEventSchema, type LoggedStateValue, type NewEvent, type StoredEvent, type ValidNewEvent } from './envelope.ts';
import { MatterStackError } from './errors.ts';
import { isValidId } from './ids.ts';
import type { JsonValue } from './json.ts';

/*
 * Validation of log records on the way in and on the way back.
 *
 * zod costs ~5 µs per envelope here (measured), more than a batched SQLite insert of the same row
 * (~2 µs). So each record first goes through a hand-written check that only ever ACCEPTS what the
 * zod schema accepts (it is stricter where that is simpler); anything it does not accept is handed
 * to zod, which either accepts it (the fast check was merely conservative) or produces the error
 * message. The domain `changes` are always checked with zod (one parse per change): they are the
 * part projections trust blindly, and re-implementing their ten variants by hand would drift.
 */

const NEW_KEYS = new Set(['eventId', 'type', 'actor', 'time', 'payload', 'from', 'to', 'changes']);
const TimeSchema = z.iso.datetime({ offset: true });
const ChangesSchema = z.array(DomainChangeSchema);

/** Remembers the last timestamp zod accepted: the events of one batch usually share it. */
let lastValidTime = '';

function isValidTime(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  if (value === lastValidTime) return true;
  if (!TimeSchema.safeParse(value).success) return false;
  lastValidTime = value;
  return true;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function isJsonValue(value: unknown, depth = 0): value is JsonValue {
  if (depth > 200) return false;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      if (value === null) return true;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!isJsonValue(value[i], depth + 1)) return false;
        return true;
      }
      if (!isPlainObject(value)) return false;
      for (const key in value) if (!isJsonValue(value[key], depth + 1)) return false;
      return true;
    default:
      return false;
  }
}

function isStateValue(value: unknown, depth = 0): value is LoggedStateValue {
  if (typeof value === 'string') return true;
  if (depth > 50 || !isPlainObject(value)) return false;
  for (const key in value) if (!isStateValue(value[key], depth + 1)) return false;
  return true;
}

function isShortString(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= 128;
}

/** The fast path: the normalised event when the envelope is certainly valid, else undefined. */
function fastNewEvent(input: unknown): ValidNewEvent | undefined {
  if (!isPlainObject(input)) return undefined;
  for (const key in input) if (!NEW_KEYS.has(key)) return undefined;
  const { eventId, type, actor, time, payload, from, to, changes } = input;
  if (!isShortString(eventId) || !isShortString(type)) return undefined;
  if (typeof actor !== 'string' || (actor !== 'run' && !isValidId(actor))) return undefined;
  if (!isValidTime(time) || !isJsonValue(payload)) return undefined;
  if (from != null && !isStateValue(from)) return undefined;
  if (to != null && !isStateValue(to)) return undefined;
  let parsedChanges: DomainChange[] = [];
  if (changes !== undefined) {
    if (!Array.isArray(changes)) return undefined;
    if (changes.length > 0) {
      const result = ChangesSchema.safeParse(changes);
      if (!result.success) return undefined;
      parsedChanges = result.data;
    }
  }
  return { eventId, type, actor, time, payload, from: from ?? null, to: to ?? null, changes: parsedChanges };
}

function describeIssue(error: z.ZodError, prefix: string): string {
  const issue = error.issues[0];
  if (issue === undefined) return `${prefix}: invalid`;
  const path = issue.path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`)).join('');
  return `${prefix}${path}: ${issue.message}`;
}

/**
 * Validates a batch about to be appended to `runId`; returns the normalised events.
 * Throws MatterStackError INVALID_EVENT naming the offending field (`events[2].changes[0].status`).
 */
export function validateNewEvents(runId: string, events: readonly NewEvent[], expectedSeq: number): ValidNewEvent[] {
  if (!isValidId(runId)) {
    throw new MatterStackError('INVALID_EVENT', `runId ${JSON.stringify(runId)}: must be 1-64 letters, digits, "_" or "-"`, {
      field: 'runId',
    });
  }
  if (!Number.isSafeInteger(expectedSeq) || expectedSeq < 0) {
    throw new MatterStackError('INVALID_EVENT', `expectedSeq: must be a non-negative integer, got ${String(expectedSeq)}`, {
      field: 'expectedSeq',
    });
  }
  if (!Array.isArray(events)) {
    throw new MatterStackError('INVALID_EVENT', 'events: must be an array', { field: 'events' });
  }
  const out: ValidNewEvent[] = new Array<ValidNewEvent>(events.length);
  const ids = new Set<string>();
  for (let i = 0; i < events.length; i++) {
    const input: unknown = events[i];
    let event = fastNewEvent(input);
    if (event === undefined) {
      const result = NewEventSchema.safeParse(input);
      if (!result.success) {
        const message = describeIssue(result.error, `run ${runId}: events[${i}]`);
        throw new MatterStackError('INVALID_EVENT', message, { runId, index: i, issues: result.error.issues });
      }
      event = result.data;
    }
    if (ids.has(event.eventId)) {
      throw new MatterStackError('INVALID_EVENT', `run ${runId}: events[${i}].eventId: duplicate id ${event.eventId} in the batch`, {
        runId,
        index: i,
      });
    }
    ids.add(event.eventId);
    out[i] = event;
  }
  return out;
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

/** Builds the INVALID_EVENT error for a record that cannot be read back. */
export function invalidStoredRecord(runId: unknown, seq: unknown, reason: string, cause?: unknown): MatterStackError {
  return new MatterStackError(
    'INVALID_EVENT',
    `invalid record in the event log: run ${String(runId)} seq ${String(seq)}: ${reason}`,
    { runId, seq },
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Validates one record read back from a backend. An invalid record is an error (INVALID_EVENT)
 * naming its run and sequence: it is never skipped, since a gap would silently change history.
 */
export function validateStoredEvent(raw: RawStoredRecord): StoredEvent {
  const { runId, seq, position, schemaVersion } = raw;
  if (
    typeof runId === 'string' &&
    isValidId(runId) &&
    typeof seq === 'number' &&
    Number.isSafeInteger(seq) &&
    seq > 0 &&
    (position === null || (typeof position === 'number' && Number.isSafeInteger(position) && position >= 0)) &&
    typeof schemaVersion === 'number' &&
    Number.isSafeInteger(schemaVersion) &&
    schemaVersion > 0
  ) {
    const event = fastNewEvent({
      eventId: raw.eventId,
      type: raw.type,
      actor: raw.actor,
      time: raw.time,
      payload: raw.payload,
      from: raw.from,
      to: raw.to,
      changes: raw.changes,
    });
    // A stored record always carries its changes array and from/to (null allowed).
    if (event !== undefined && Array.isArray(raw.changes) && raw.from !== undefined && raw.to !== undefined) {
      return { ...event, runId, seq, position, schemaVersion };
    }
  }
  const result = StoredEventSchema.safeParse(raw);
  if (result.success && Array.isArray(raw.changes)) return result.data;
  const reason = result.success ? 'changes: missing' : describeIssue(result.error, 'record').replace(/^record\.?/, '');
  throw invalidStoredRecord(runId, seq, reason);
}
