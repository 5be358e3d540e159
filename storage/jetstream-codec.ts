import type { StoredMsg } from '@nats-io/jetstream';
import { headers, type MsgHdrs } from '@nats-io/transport-node';
import { SCHEMA_VERSION, type StoredEvent, type ValidNewEvent } from '../events/envelope.ts';
import { MatterStackError } from '../events/errors.ts';
import { storedPayload } from '../events/results-once.ts';
import { runIdOfEventSubject } from '../events/subjects.ts';
import { upcastStoredRecord } from '../events/upcast.ts';
import { invalidStoredRecord, validateStoredEvent } from '../events/validate-events.ts';

// How a JetStreamEventLog batch becomes stream messages and back: one message per batch of envelopes.

/** One raw message of the stream. */
export interface StreamMessage {
  subject: string;
  streamSeq: number;
  data: Uint8Array;
}

/** Room left under max_payload for the headers (msg id, expectation) and protocol framing. */
const HEADER_ROOM = 1024;
/** The size batches are packed to: messages far larger are slow to store and acknowledge. */
const MESSAGE_TARGET_BYTES = 1024 * 1024 - HEADER_ROOM;
const decoder = new TextDecoder();

/**
 * Decodes one stream message into its events. A message holds a JSON array of envelopes (one
 * appended batch); `position` is the message's stream sequence, shared by the batch's events.
 */
export function decodeMessage(message: StreamMessage, expectedNextSeq: number | undefined): StoredEvent[] {
  const runId = runIdOfEventSubject(message.subject) ?? message.subject;
  // The run sequence the message should start at (unknown when read out of order); the stream sequence locates it.
  const where = expectedNextSeq ?? '?';
  const inMessage = `(stream sequence ${message.streamSeq})`;
  let records: unknown;
  try {
    records = JSON.parse(decoder.decode(message.data)) as unknown;
  } catch (error) {
    throw invalidStoredRecord(runId, where, `message ${inMessage} is not JSON`, error);
  }
  if (!Array.isArray(records) || records.length === 0) throw invalidStoredRecord(runId, where, `message ${inMessage} is not a non-empty array of events`);
  return records.map((record: unknown, i) => {
    if (typeof record !== 'object' || record === null) throw invalidStoredRecord(runId, where, `element ${i} of message ${inMessage} is not an object`);
    const r = record as Record<string, unknown>;
    const event = validateStoredEvent(upcastStoredRecord({
      runId: r.runId,
      seq: r.seq,
      position: message.streamSeq,
      schemaVersion: r.schemaVersion,
      eventId: r.eventId,
      type: r.type,
      actor: r.actor,
      time: r.time,
      payload: r.payload,
      from: r.from,
      to: r.to,
      changes: r.changes,
    }));
    if (event.runId !== runId) throw invalidStoredRecord(runId, event.seq, `record names run ${event.runId}`);
    if (expectedNextSeq !== undefined && event.seq !== expectedNextSeq + i) {
      throw invalidStoredRecord(runId, event.seq, `expected sequence ${expectedNextSeq + i}`);
    }
    return event;
  });
}

/** One message of an appended batch. */
export interface Chunk {
  data: Uint8Array;
  firstSeq: number;
  lastSeq: number;
  firstEventId: string;
}

/** A stored envelope: the event with its run, sequence and schema version in front. */
interface Envelope {
  runId: string;
  seq: number;
  schemaVersion: number;
  eventId: string;
  type: string;
  actor: string;
  time: string;
  payload: ValidNewEvent['payload'];
  from: ValidNewEvent['from'];
  to: ValidNewEvent['to'];
  changes: ValidNewEvent['changes'];
}

/**
 * The batch's envelopes, built field by field (no spread) so that they all share one shape: the
 * same JSON as `{ runId, seq, schemaVersion, ...event }` for a validated event, which has exactly
 * these fields in this order, but for the payload as stored (results once: events/results-once.ts).
 */
export function envelopes(runId: string, events: readonly ValidNewEvent[], expectedSeq: number): Envelope[] {
  const out = new Array<Envelope>(events.length);
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    out[i] = {
      runId,
      seq: expectedSeq + i + 1,
      schemaVersion: SCHEMA_VERSION,
      eventId: e.eventId,
      type: e.type,
      actor: e.actor,
      time: e.time,
      payload: storedPayload(e),
      from: e.from,
      to: e.to,
      changes: e.changes,
    };
  }
  return out;
}

/**
 * Encodes an appended batch as messages under the server's `maxPayload`. Normally one message, so
 * the batch is atomic. CAVEAT: a batch too large for one message becomes several, each guarded by
 * the expectation on the previous one; a failure midway leaves a prefix of the batch appended
 * (still gap-free and in order, and a retry completes it through de-duplication).
 */
export function encodeBatch(runId: string, events: readonly ValidNewEvent[], expectedSeq: number, maxPayload: number): Chunk[] {
  const maxBytes = Math.max(4096, maxPayload - HEADER_ROOM);
  // Batches pack into messages of about 1 MB even when the server allows more: a 24 MB message
  // (a 40k-task dispatch) outlasts the publish timeout. Only one event alone may be bigger.
  const limit = Math.min(maxBytes, MESSAGE_TARGET_BYTES);
  const records = envelopes(runId, events, expectedSeq);
  // The common case: the whole batch, one JSON.stringify and one UTF-8 encoding (a UTF-16 unit
  // never takes more than 3 bytes, so short texts skip counting their bytes).
  const text = JSON.stringify(records);
  if (text.length * 3 <= limit || Buffer.byteLength(text) <= limit) {
    return [{ data: Buffer.from(text, 'utf8'), firstSeq: expectedSeq + 1, lastSeq: expectedSeq + events.length, firstEventId: events[0]?.eventId ?? '' }];
  }
  return splitRecords(runId, records, limit, maxBytes);
}

/**
 * Splits envelopes too large for one message into messages of at most `limit` bytes each; an
 * envelope bigger than `limit` on its own gets a message to itself, up to `maxBytes`.
 */
export function splitRecords(runId: string, records: readonly Envelope[], limit: number, maxBytes = limit): Chunk[] {
  const out: Chunk[] = [];
  let parts: string[] = [];
  let size = 2;
  let first: Envelope | undefined;
  let last: Envelope | undefined;
  const flush = (): void => {
    if (first === undefined || last === undefined) return;
    out.push({ data: Buffer.from(`[${parts.join(',')}]`, 'utf8'), firstSeq: first.seq, lastSeq: last.seq, firstEventId: first.eventId });
    parts = [];
    size = 2;
    first = undefined;
  };
  for (const record of records) {
    const json = JSON.stringify(record);
    const bytes = Buffer.byteLength(json) + 1;
    if (parts.length > 0 && size + bytes > limit) flush();
    if (size + bytes > maxBytes) throw new MatterStackError('INVALID_EVENT', `run ${runId}: event ${record.eventId} is larger than the server's max payload`, { runId });
    first ??= record;
    last = record;
    parts.push(json);
    size += bytes;
  }
  flush();
  return out;
}

/**
 * Header naming the run sequence of a message's last event: the tail of a run is known without
 * decoding (and validating) its last message, up to max_payload of events. Messages written
 * before it existed are decoded.
 */
const LAST_SEQ_HEADER = 'Ms-Last-Seq';

/** The headers a chunk's message carries. */
export function chunkHeaders(chunk: Chunk): MsgHdrs {
  const header = headers();
  header.set(LAST_SEQ_HEADER, String(chunk.lastSeq));
  return header;
}

/** The run sequence the message's header names for its last event, when it names one. */
export function statedLastSeq(message: StoredMsg): number | undefined {
  const stated = Number(message.header?.get(LAST_SEQ_HEADER));
  return Number.isSafeInteger(stated) && stated > 0 ? stated : undefined;
}

/** The run sequence of the last event in `message`. */
export function lastSeqOf(message: StoredMsg): number {
  const stated = statedLastSeq(message);
  if (stated !== undefined) return stated;
  const events = decodeMessage({ subject: message.subject, streamSeq: message.seq, data: message.data }, undefined);
  return events[events.length - 1]?.seq ?? 0;
}
