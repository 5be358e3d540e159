import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DomainChange } from '../events/changes.ts';
import type { StoredEvent, ValidNewEvent } from '../events/envelope.ts';
import { PROJECTION_TABLES } from '../projections/schema.ts';

/** A temp directory for real SQLite files, removed by `cleanup`. */
export function tempDir(): { dir: string; file: (name: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ms-projections-'));
  return { dir, file: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Opens a projection database file the way the CLI would. */
export function openDb(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  return db;
}

let counter = 0;

/** A new event carrying `changes` at `time` (seconds after a fixed epoch). */
export function newEvent(type: string, changes: DomainChange[], options: { actor?: string; second?: number } = {}): ValidNewEvent {
  counter += 1;
  return {
    eventId: `e${counter}`,
    type,
    actor: options.actor ?? 'run',
    time: new Date(Date.UTC(2025, 0, 1) + (options.second ?? counter) * 1000).toISOString(),
    payload: {},
    from: null,
    to: null,
    changes,
  };
}

/** Stored events for one run, numbered 1.. with positions following on from `firstPosition`. */
export function storedRun(runId: string, events: ValidNewEvent[], firstPosition = 1): StoredEvent[] {
  return events.map((event, i) => ({
    ...event,
    runId,
    seq: i + 1,
    position: firstPosition + i,
    schemaVersion: 1,
  }));
}

/** Every projection table's rows in key order: what "identical tables" means in the specs. */
export function dumpTables(db: Database.Database): Record<string, unknown[]> {
  const dump: Record<string, unknown[]> = {};
  for (const table of PROJECTION_TABLES) dump[table] = db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2, 3`).raw().all();
  return dump;
}
