import { z } from 'zod';
import type { DomainChange } from './changes.ts';
import { NewEventSchema, StoredEventSchema, type LoggedStateValue, type NewEvent, type StoredEvent, type ValidNewEvent } from './envelope.ts';
import { MatterStackError } from './errors.ts';
import { isValidId } from './ids.ts';
import type { JsonValue } from './json.ts';
import { restoredPayload } from './results-once.ts';
import { fastDomainChanges, isId, isJsonValue, isPlainObject, isShortString, isStateValue, isValidTime, onlyKeys } from './validate-changes.ts';

/*
 * Validation of log records on the way in and on the way back.
 *
 * zod costs ~5 µs per envelope and several µs per domain change (measured), more than a batched
 * SQLite insert of the same row (~2 µs) and most of the cost of reading the log back. So each
 * record first goes through hand-written structural checks — the envelope and every
 * DomainChange kind (events/changes.ts), including the task specs of `workflow.planned` — that
 * accept exactly what the zod schemas accept and produce the same output (defaults applied).
 * Anything they do not accept is handed to zod, which produces the error message (or, for the
 * few exotic shapes where the fast checks are merely conservative, accepts it).
 * tests/validate-events.property.test.ts checks the agreement on random valid and invalid input.
 */

const NEW_KEYS: ReadonlySet<string> = new Set(['eventId', 'type', 'actor', 'time', 'payload', 'from', 'to', 'changes']);

/** The fast path for the envelope fields: the normalised changes when all are certainly valid, else undefined. */
function fastEnvelope(
  eventId: unknown,
  type: unknown,
  actor: unknown,
  time: unknown,
  payload: unknown,
  from: unknown,
  to: unknown,
  changes: unknown,
): DomainChange[] | undefined {
  if (!isShortString(eventId) || !isShortString(type)) return undefined;
  if (actor !== 'run' && !isId(actor)) return undefined;
  if (!isValidTime(time) || !isJsonValue(payload)) return undefined;
  if (from != null && !isStateValue(from)) return undefined;
  if (to != null && !isStateValue(to)) return undefined;
  if (changes === undefined) return [];
  return Array.isArray(changes) ? fastDomainChanges(changes) : undefined;
}

/** The fast path for a NewEvent: the normalised event when the input is certainly valid, else undefined. */
export function fastNewEvent(input: unknown): ValidNewEvent | undefined {
  if (!isPlainObject(input) || !onlyKeys(input, NEW_KEYS)) return undefined;
  const { eventId, type, actor, time, payload, from, to, changes } = input;
  // zod's nullable-with-default: `from: undefined` becomes null, `from: null` stays null.
  const valid = fastEnvelope(eventId, type, actor, time, payload, from, to, changes);
  if (valid === undefined) return undefined;
  // Already in normal form (what the host appends): the input itself, not a copy per record.
  if (from !== undefined && to !== undefined && valid === changes) return input as unknown as ValidNewEvent;
  return {
    eventId: eventId as string,
    type: type as string,
    actor: actor as string,
    time: time as string,
    payload: payload as JsonValue,
    from: (from as LoggedStateValue | undefined) ?? null,
    to: (to as LoggedStateValue | undefined) ?? null,
    changes: valid,
  };
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

function describeIssue(error: z.ZodError, prefix: string): string {
  const issue = error.issues[0];
  if (issue === undefined) return `${prefix}: invalid`;
  return `${prefix}${issue.path.map(pathPart).join('')}: ${clipped(issue.message, 300)}`;
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
  // A single event cannot repeat an id: no set for the common one-event append.
  const ids = events.length > 1 ? new Set<string>() : undefined;
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
    if (ids !== undefined) {
      if (ids.has(event.eventId)) {
        throw new MatterStackError('INVALID_EVENT', `run ${runId}: events[${i}].eventId: duplicate id ${event.eventId} in the batch`, {
          runId,
          index: i,
        });
      }
      ids.add(event.eventId);
    }
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
 * Validates one record read back from a backend. An invalid record is an error (INVALID_EVENT)
 * naming its run and sequence: it is never skipped, since a gap would silently change history.
 */
export function validateStoredEvent(raw: RawStoredRecord): StoredEvent {
  const event = validateStoredEnvelope(raw);
  const payload = restoredPayload(event.type, event.actor, event.payload, event.changes);
  if (payload === undefined) throw invalidStoredRecord(event.runId, event.seq, 'payload: refers to results its changes do not carry');
  if (payload !== event.payload) event.payload = payload;
  return event;
}

function validateStoredEnvelope(raw: RawStoredRecord): StoredEvent {
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
    const changes = raw.changes;
    // A stored record always carries its changes array and from/to (null allowed).
    if (Array.isArray(changes) && raw.from !== undefined && raw.to !== undefined) {
      const { eventId, type, actor, time, payload, from, to } = raw;
      const valid = fastEnvelope(eventId, type, actor, time, payload, from, to, changes);
      if (valid !== undefined) {
        return {
          eventId: eventId as string,
          type: type as string,
          actor: actor as string,
          time: time as string,
          payload: payload as JsonValue,
          from: (from as LoggedStateValue | null) ?? null,
          to: (to as LoggedStateValue | null) ?? null,
          changes: valid,
          runId,
          seq,
          position,
          schemaVersion,
        };
      }
    }
  }
  const result = StoredEventSchema.safeParse(raw);
  if (result.success && Array.isArray(raw.changes)) return result.data;
  const reason = result.success ? 'changes: missing' : describeIssue(result.error, 'record').replace(/^record\.?/, '');
  throw invalidStoredRecord(runId, seq, reason);
}
