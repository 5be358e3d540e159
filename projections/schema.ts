import type Database from 'better-sqlite3';

/** Every table the projections own, in drop order. None collides with the embedded log's `events`. */
export const PROJECTION_TABLES = ['commands', 'campaign_states', 'attempts', 'tasks', 'runs', 'projection_positions'] as const;

/** The `projection_positions.stream` key holding the global position that `catchUp` resumes from. */
export const ALL_STREAM = '$all';

/** Bumped whenever a table changes shape: a database at another version is dropped and refolded. */
export const PROJECTION_SCHEMA_VERSION = 3;
const VERSION_STREAM = '$schema';

// Primary keys are (run_id, …) so every per-run query is a range scan on the key itself;
// WITHOUT ROWID keeps those rows clustered and makes the upserts of the fold cheaper.
const TABLES = `
CREATE TABLE IF NOT EXISTS runs (
  run_id         TEXT PRIMARY KEY,
  workspace      TEXT,
  status         TEXT NOT NULL,
  status_reason  TEXT,
  phase          TEXT,
  iteration      INTEGER,
  max_concurrent INTEGER,
  created_at     TEXT,
  updated_at     TEXT,
  last_seq       INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS tasks (
  run_id             TEXT NOT NULL,
  task_id            TEXT NOT NULL,
  iteration          INTEGER,
  workflow_order     INTEGER,
  kind               TEXT,
  spec               TEXT,
  dependencies       TEXT NOT NULL,
  operator_key       TEXT,
  status             TEXT NOT NULL,
  status_reason      TEXT,
  current_attempt_id TEXT,
  attempt_count      INTEGER NOT NULL,
  message            TEXT,
  updated_at         TEXT,
  PRIMARY KEY (run_id, task_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS attempts (
  run_id         TEXT NOT NULL,
  attempt_id     TEXT NOT NULL,
  task_id        TEXT NOT NULL,
  attempt_number INTEGER NOT NULL,
  operator_key   TEXT NOT NULL,
  status         TEXT NOT NULL,
  reason         TEXT,
  external_id    TEXT,
  operator_data  TEXT,
  dir            TEXT,
  created_at     TEXT NOT NULL,
  created_seq    INTEGER NOT NULL,
  submitted_at   TEXT,
  ended_at       TEXT,
  results_files  TEXT,
  results_data   TEXT,
  decision       TEXT,
  updated_at     TEXT NOT NULL,
  PRIMARY KEY (run_id, attempt_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS campaign_states (
  run_id    TEXT NOT NULL,
  iteration INTEGER NOT NULL,
  state     TEXT NOT NULL,
  time      TEXT NOT NULL,
  seq       INTEGER NOT NULL,
  PRIMARY KEY (run_id, iteration)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS commands (
  run_id   TEXT NOT NULL,
  seq      INTEGER NOT NULL,
  idx      INTEGER NOT NULL,
  verb     TEXT NOT NULL,
  accepted INTEGER NOT NULL,
  code     TEXT,
  reason   TEXT,
  target    TEXT,
  by        TEXT,
  principal TEXT,
  actor     TEXT NOT NULL,
  time     TEXT NOT NULL,
  PRIMARY KEY (run_id, seq, idx)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS projection_positions (
  stream   TEXT PRIMARY KEY,
  last_seq INTEGER NOT NULL,
  position INTEGER
) WITHOUT ROWID;
`;

// Secondary indexes are kept apart so a rebuild can load first and index once at the end.
const INDEXES = `
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status);
CREATE INDEX IF NOT EXISTS attempts_by_task ON attempts (run_id, task_id, attempt_number);
`;

/** Creates the projection tables (without secondary indexes) if they are missing, stamped with the schema version. */
export function createTables(db: Database.Database): void {
  db.exec(TABLES);
  db.prepare('INSERT OR IGNORE INTO projection_positions (stream, last_seq, position) VALUES (?, ?, NULL)').run(
    VERSION_STREAM,
    PROJECTION_SCHEMA_VERSION,
  );
}

/** Creates the secondary indexes the queries rely on, if they are missing. */
export function createIndexes(db: Database.Database): void {
  db.exec(INDEXES);
}

/**
 * Creates every projection table and index if missing; safe to call on every open. Tables of
 * another schema version are dropped first (their positions go with them, so the next
 * `catchUp` refolds the log). Returns true when it dropped them.
 */
export function createSchema(db: Database.Database): boolean {
  const hasTables = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'projection_positions'").get() !== undefined;
  const version = hasTables
    ? (db.prepare('SELECT last_seq AS version FROM projection_positions WHERE stream = ?').get(VERSION_STREAM) as { version: number } | undefined)
    : undefined;
  const stale = hasTables && version?.version !== PROJECTION_SCHEMA_VERSION;
  if (stale) dropSchema(db);
  createTables(db);
  createIndexes(db);
  return stale;
}

/** Drops every projection table (and with them their indexes); the log's tables are untouched. */
export function dropSchema(db: Database.Database): void {
  for (const table of PROJECTION_TABLES) db.exec(`DROP TABLE IF EXISTS ${table}`);
}
