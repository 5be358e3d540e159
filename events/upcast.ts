import type { RawStoredRecord } from './validate-events.ts';

/*
 * Upcasting at read: the one place where a record stored in an older shape is mapped to the
 * current one, before it is validated, by both logs (SQLite rows: storage/sqlite-rows.ts; JetStream
 * messages: storage/jetstream-codec.ts). The log itself is never rewritten: what was appended stays
 * as it was, and every reader sees the current shape. How to add one: docs/event-evolution.md.
 *
 * Each upcaster recognises the old shape from the record itself (a record's `schemaVersion` says
 * which writer stored it, when the shape alone cannot tell) and returns a new record in the next
 * shape; records already in the current shape are returned as they are, untouched and uncopied,
 * since this runs for every record read (a rebuild reads them all).
 */

/** One step from an older stored shape to the next one. */
interface Upcaster {
  /** True when `record` is in the older shape this upcaster maps (cheap: it runs on every record read). */
  applies(record: RawStoredRecord): boolean;
  /** The record in the newer shape, as a new object (`record` is not modified). */
  upcast(record: RawStoredRecord): RawStoredRecord;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * ATTEMPT.SUBMITTED named the operator's id of the work (pid, Slurm job id, gate attempt id)
 * `jobId`; it is `externalId` now, like the `attempt.status` change always called it. The worked
 * example of docs/event-evolution.md, with its fixture in tests/fixtures/older-shapes/.
 */
const submittedJobId: Upcaster = {
  applies: (record) => record.type === 'ATTEMPT.SUBMITTED' && isObject(record.payload) && 'jobId' in record.payload && !('externalId' in record.payload),
  upcast: (record) => {
    const { jobId, ...rest } = record.payload as Record<string, unknown>;
    return { ...record, payload: { externalId: jobId, ...rest } };
  },
};

/** Oldest first: a record goes through every upcaster whose old shape it is in, in this order. */
const UPCASTERS: readonly Upcaster[] = [submittedJobId];

/** The record in the current shape: every upcaster that recognises its shape applied, oldest first. */
export function upcastStoredRecord(record: RawStoredRecord): RawStoredRecord {
  let current = record;
  for (const upcaster of UPCASTERS) if (upcaster.applies(current)) current = upcaster.upcast(current);
  return current;
}
