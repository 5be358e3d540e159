import { z } from 'zod';
import { MatterStackError } from './errors.ts';

/**
 * The record a host appends before the first record it writes to a run whenever its MatterStack
 * version or machine definitions differ from the last ones recorded for that run (DESIGN: the log
 * grows with changes, not with time). Every later record, up to the next such record, was decided
 * by that writer. It is no event of any machine: restore and replay validate it and move on.
 * Actor `run`, `from`/`to` null, no changes; runs logged before it have none.
 */
export const HOST_VERSION_TYPE = 'HOST.VERSION';

/** Who wrote records: a MatterStack version and the hash of the machine definitions it decided with. */
export const WriterStampSchema = z.strictObject({
  /** package.json's version of the writing process. */
  version: z.string().min(1).max(64),
  /** Hex digest of the machine definitions (host/writer-stamp.ts says what it covers). */
  machines: z.string().regex(/^[0-9a-f]{16,64}$/, 'must be 16-64 lowercase hex digits'),
});
export type WriterStamp = z.output<typeof WriterStampSchema>;

/** True for a HOST.VERSION record (by its type). */
export function isHostVersion(record: { type: string }): boolean {
  return record.type === HOST_VERSION_TYPE;
}

/** The stamp of a HOST.VERSION record read back; INVALID_EVENT naming the run, seq and field when it is malformed. */
export function parseHostVersion(record: { runId?: string; seq?: number; actor: string; payload: unknown }): WriterStamp {
  const where = `${record.runId !== undefined ? `run ${record.runId} ` : ''}${record.seq !== undefined ? `seq ${record.seq}: ` : ''}`;
  if (record.actor !== 'run') throw new MatterStackError('INVALID_EVENT', `${where}${HOST_VERSION_TYPE} must be a record of the run actor, not ${record.actor}`, { seq: record.seq });
  const parsed = WriterStampSchema.safeParse(record.payload);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.join('.') || 'payload';
  throw new MatterStackError('INVALID_EVENT', `${where}invalid ${HOST_VERSION_TYPE} ${field}: ${issue?.message ?? 'invalid'}`, { seq: record.seq, field });
}

/** Same version and same machines. */
export function sameWriter(a: WriterStamp | null, b: WriterStamp | null): boolean {
  return a === b || (a !== null && b !== null && a.version === b.version && a.machines === b.machines);
}

/** `MatterStack 0.2.0 (machines 3f2a9c0d1e2b3c4d)`, or what is known of records logged before version records. */
export function writerText(stamp: WriterStamp | null): string {
  return stamp === null ? 'an unrecorded MatterStack version (logged before version records)' : `MatterStack ${stamp.version} (machines ${stamp.machines.slice(0, 16)})`;
}

/** The writer of each record, in order: the stamp of the last HOST.VERSION at or before it (null before the first). */
export function writersOf(records: readonly { runId?: string; seq?: number; actor: string; type: string; payload: unknown }[]): (WriterStamp | null)[] {
  let current: WriterStamp | null = null;
  return records.map((record) => {
    if (isHostVersion(record)) current = parseHostVersion(record);
    return current;
  });
}
