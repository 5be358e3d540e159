import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { SqliteEventLog } from '../../storage/sqlite-event-log.ts';

/*
 * Golden logs: the records an earlier release wrote, kept as gzipped JSON lines (one run per file,
 * one record per line, every column exactly as the SQLite log stored it; the same shape as a
 * JetStream envelope). Restoring writes the rows as they are into a fresh SQLite log, bypassing
 * the current writer: a record in an older shape must reach the read path in that shape.
 */

/** The folder of the committed golden logs and their manifest. */
export const GOLDEN_DIR = path.join(import.meta.dirname, '..', 'fixtures', 'golden');
/** The workspaces the golden runs were written from (copied into a root before restoring). */
export const GOLDEN_WORKSPACES = { demos: path.join(import.meta.dirname, '..', '..', 'workspaces', 'demos'), fixtures: path.join(import.meta.dirname, '..', 'fixtures', 'workspaces') };

/** One stored record, every column as stored (JSON columns parsed). */
export interface GoldenRecord {
  runId: string;
  seq: number;
  schemaVersion: number;
  eventId: string;
  type: string;
  actor: string;
  time: string;
  payload: unknown;
  from: unknown;
  to: unknown;
  changes: unknown;
}

/** Deliberately loose: a golden file holds what an older release stored, which today's schemas may not accept as is. */
const GoldenRecordSchema = z.strictObject({
  runId: z.string(),
  seq: z.number().int().positive(),
  schemaVersion: z.number().int().positive(),
  eventId: z.string(),
  type: z.string(),
  actor: z.string(),
  time: z.string(),
  payload: z.unknown(),
  from: z.unknown(),
  to: z.unknown(),
  changes: z.unknown(),
});

/** What the manifest says of one golden run: its file and what restoring it must show. */
export const GoldenRunSchema = z.strictObject({
  runId: z.string(),
  file: z.string(),
  workspace: z.string(),
  records: z.number().int().positive(),
  status: z.string(),
  /** What the run shows: the scenario it was driven through (documentation for a reader of the manifest). */
  story: z.string(),
});
export type GoldenRun = z.infer<typeof GoldenRunSchema>;

/** The manifest of the committed golden runs. */
export function readManifest(dir = GOLDEN_DIR): GoldenRun[] {
  return z.array(GoldenRunSchema).parse(JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')));
}

/** The records of a golden file (`.jsonl.gz`), each checked for its columns; errors name the file and line. */
export function readGoldenFile(file: string): GoldenRecord[] {
  const text = gunzipSync(fs.readFileSync(file)).toString('utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line, i) => {
      const parsed = GoldenRecordSchema.safeParse(JSON.parse(line));
      if (!parsed.success) throw new Error(`${file}:${i + 1}: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
      return parsed.data as GoldenRecord;
    });
}

/** Writes records as a golden file (gzipped JSON lines, in sequence order). */
export function writeGoldenFile(file: string, records: readonly GoldenRecord[]): void {
  fs.writeFileSync(file, gzipSync(records.map((r) => `${JSON.stringify(r)}\n`).join(''), { level: 9 }));
}

/** Rows as the SQLite log stores them: its columns in this order. */
const STORED_COLUMNS = 'run_id, seq, event_id, type, actor, time, payload, from_state, to_state, changes, schema_version';

/** Every record of `runId` in the SQLite log file `logFile`, every column as stored. */
export function exportRun(logFile: string, runId: string): GoldenRecord[] {
  const db = new Database(logFile, { readonly: true });
  try {
    const rows = db.prepare(`SELECT ${STORED_COLUMNS} FROM events WHERE run_id = ? ORDER BY seq`).all(runId) as {
      run_id: string; seq: number; event_id: string; type: string; actor: string; time: string;
      payload: string; from_state: string | null; to_state: string | null; changes: string; schema_version: number;
    }[];
    return rows.map((row) => ({
      runId: row.run_id,
      seq: row.seq,
      schemaVersion: row.schema_version,
      eventId: row.event_id,
      type: row.type,
      actor: row.actor,
      time: row.time,
      payload: JSON.parse(row.payload) as unknown,
      from: row.from_state === null ? null : (JSON.parse(row.from_state) as unknown),
      to: row.to_state === null ? null : (JSON.parse(row.to_state) as unknown),
      changes: JSON.parse(row.changes) as unknown,
    }));
  } finally {
    db.close();
  }
}

/**
 * Writes records, as they are, into the SQLite log file `logFile` (created with the current schema
 * when missing), after whatever it holds.
 */
export async function restoreRecords(logFile: string, records: readonly GoldenRecord[]): Promise<void> {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  await (SqliteEventLog.open(logFile)).close();
  const db = new Database(logFile);
  try {
    const insert = db.prepare(`INSERT INTO events (${STORED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const json = (value: unknown): string | null => (value === null ? null : JSON.stringify(value));
    db.transaction(() => {
      for (const r of records) {
        insert.run(r.runId, r.seq, r.eventId, r.type, r.actor, r.time, JSON.stringify(r.payload), json(r.from), json(r.to), JSON.stringify(r.changes), r.schemaVersion);
      }
    })();
  } finally {
    db.close();
  }
}

/** A workspaces root holding the golden runs' workspaces (the demos and the fixtures' workspaces), without their runs. */
export function copyGoldenWorkspaces(root: string): void {
  const noRuns = (src: string): boolean => !src.split(path.sep).includes('runs');
  fs.cpSync(GOLDEN_WORKSPACES.demos, path.join(root, 'demos'), { recursive: true, filter: noRuns });
  fs.cpSync(GOLDEN_WORKSPACES.fixtures, root, { recursive: true, filter: noRuns });
}
