import Database from 'better-sqlite3';
import type { EventLog } from '../../events/event-log.ts';
import { Projector } from '../../projections/projector.ts';
import { PROJECTION_TABLES } from '../../projections/schema.ts';

/** Every projection table's rows in a stable order, for comparing two databases. */
export function dumpProjections(db: Database.Database): Record<string, unknown[]> {
  const dump: Record<string, unknown[]> = {};
  for (const table of PROJECTION_TABLES) {
    const rows = db.prepare(`SELECT * FROM ${table}`).all() as Record<string, unknown>[];
    dump[table] = rows.map((row) => JSON.stringify(row)).sort();
  }
  return dump;
}

/** The projections a full rebuild from `log` produces, in a fresh in-memory database. */
export async function rebuiltProjections(log: EventLog): Promise<Record<string, unknown[]>> {
  const db = new Database(':memory:');
  try {
    await new Projector(db).rebuild(log);
    return dumpProjections(db);
  } finally {
    db.close();
  }
}
