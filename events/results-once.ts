import type { DomainChange } from './changes.ts';
import type { JsonValue } from './json.ts';

/*
 * An attempt's results (files and data, up to the results limit) are stored once per record. The
 * machine's `attempt.results` change carries them, since projections fold changes alone (the
 * rebuild's narrow read fetches no payload); the event's payload is stored with a reference in
 * their place and filled back from the change on reading. Records written before this have both
 * copies and no reference: they read as they are.
 */

/** The key that, in a stored payload, says its `files` and `data` are the record's `attempt.results` change's. */
export const RESULTS_REF_KEY = '$resultsIn';
const RESULTS_REF_VALUE = 'changes';

const RESULTS_EVENTS: ReadonlySet<string> = new Set(['ATTEMPT.RESULTS', 'ATTEMPT.RESULTS_INVALID']);
const REPORT_EVENT = 'OPERATOR.REPORTED';
type ResultsChange = Extract<DomainChange, { kind: 'attempt.results' }>;

function isObject(value: unknown): value is Record<string, JsonValue> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function resultsChangeOf(actor: string, changes: readonly DomainChange[]): ResultsChange | undefined {
  for (const change of changes) if (change.kind === 'attempt.results' && change.attemptId === actor) return change;
  return undefined;
}

// The host hands the change the payload's very objects; a copy (a zod-normalised event) is compared by value.
function same(a: unknown, b: unknown): boolean {
  return a === b || (a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b));
}

/**
 * The object of a payload holding an attempt's files and data: the payload of ATTEMPT.RESULTS and
 * RESULTS_INVALID, or the `results` an OPERATOR.REPORTED that ended the attempt carries.
 */
function resultsHolderOf(type: string, payload: JsonValue): Record<string, JsonValue> | undefined {
  if (!isObject(payload)) return undefined;
  if (RESULTS_EVENTS.has(type)) return payload;
  const nested = payload.results;
  if (type === REPORT_EVENT && isObject(nested) && typeof nested.type === 'string' && RESULTS_EVENTS.has(nested.type)) return nested;
  return undefined;
}

/** The payload to store for a record: the results its changes carry replaced by a reference to them. */
export function storedPayload(record: { type: string; actor: string; payload: JsonValue; changes: readonly DomainChange[] }): JsonValue {
  const { payload } = record;
  const holder = resultsHolderOf(record.type, payload);
  if (holder === undefined || !isObject(payload) || RESULTS_REF_KEY in holder) return payload;
  const change = resultsChangeOf(record.actor, record.changes);
  if (change === undefined || !same(holder.files, change.files) || !same(holder.data, change.data)) return payload;
  const { files: _files, data: _data, ...rest } = holder;
  const stored = { ...rest, [RESULTS_REF_KEY]: RESULTS_REF_VALUE };
  return RESULTS_EVENTS.has(record.type) ? stored : { ...payload, results: stored };
}

/**
 * The payload as the event carried it, from a stored one: a reference is replaced by the files and
 * data of the record's `attempt.results` change. Undefined when the reference names no such change.
 */
export function restoredPayload(type: string, actor: string, payload: JsonValue, changes: readonly DomainChange[]): JsonValue | undefined {
  const holder = resultsHolderOf(type, payload);
  if (holder === undefined || !isObject(payload) || holder[RESULTS_REF_KEY] === undefined) return payload;
  const change = resultsChangeOf(actor, changes);
  if (holder[RESULTS_REF_KEY] !== RESULTS_REF_VALUE || change === undefined) return undefined;
  const { [RESULTS_REF_KEY]: _ref, ...rest } = holder;
  const results = { files: change.files, ...(change.data !== undefined ? { data: change.data } : {}) };
  // Keys in the order the event had them: a report's results start with their `type`.
  return RESULTS_EVENTS.has(type) ? { ...results, ...rest } : { ...payload, results: { ...rest, ...results } };
}
