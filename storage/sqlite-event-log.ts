import Database from 'better-sqlite3';
import { SCHEMA_VERSION, type StoredEvent, type ValidNewEvent } from '../events/envelope.ts';
import { MatterStackError, VersionConflictError } from '../events/errors.ts';
import { sqliteFault } from './sqlite-fault.ts';
import type { AppendResult, EventLog, FollowOptions, LoggedRun } from '../events/event-log.ts';
import { storedPayload } from '../events/results-once.ts';
import { CHANGE_COLUMNS, COLUMNS, rawChangeRowToRecord, rawRowToEvent, type ChangeRecord, type RawChangeRow, type RawRow } from './sqlite-rows.ts';
import { isValidId } from '../events/ids.ts';
import { checkAppend, invalidStoredRecord } from '../events/validate-events.ts';

/** Options of `SqliteEventLog.open`. */
export interface SqliteEventLogOptions {
  /** How long a writer waits for another process's write transaction (ms). Default 10 s. */
  busyTimeoutMs?: number;
  /** How often `follow` looks for rows written by other processes (ms). Default 25. */
  pollIntervalMs?: number;
  /**
   * SQLite `synchronous` pragma. FULL (default) fsyncs the WAL at every commit, so an append is
   * durable when it returns (write-ahead-of-effects); NORMAL is faster but a power loss may drop
   * the last commits.
   */
  synchronous?: 'FULL' | 'NORMAL';
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  position INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  event_id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  actor TEXT NOT NULL,
  time TEXT NOT NULL,
  payload TEXT NOT NULL,
  from_state TEXT,
  to_state TEXT,
  changes TEXT NOT NULL,
  schema_version INTEGER NOT NULL,
  UNIQUE (run_id, seq)
);`;

const PAGE_SIZE = 500;
/**
 * Rows per page of `readAll`/`readAllChanges`: big enough to amortise the statement cost, small
 * enough that a page's parsed records die young (5000 doubled the garbage collector's work).
 */
const READ_ALL_PAGE_SIZE = 1000;

/** A run's records must follow one another: a gap (a record lost or moved by damage) is refused where it is, never read past. */
function missingRecord(runId: string, expectedSeq: number, foundSeq: number): MatterStackError {
  return invalidStoredRecord(runId, expectedSeq, `missing: the run's next record stored has sequence ${foundSeq}`);
}

/** Resolves after `ms`, or earlier on `wake()` or abort. */
function sleep(ms: number, waiters: Set<() => void>, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      waiters.delete(done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    waiters.add(done);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The embedded event log: one SQLite file in WAL mode, safe to share between processes
 * (writers serialise on `BEGIN IMMEDIATE`, readers never block them).
 */
export class SqliteEventLog implements EventLog {
  /** The SQLite file (named in every storage error). */
  readonly path: string;
  private readonly db: Database.Database;
  private readonly pollIntervalMs: number;
  private readonly waiters = new Set<() => void>();
  private closed = false;
  private readonly stmt: {
    lastSeq: Database.Statement<[string], { seq: number | null }>;
    insert: Database.Statement<unknown[]>;
    idsFrom: Database.Statement<[string, number, number], { seq: number; event_id: string }>;
    runPage: Database.Statement<[string, number, number], RawRow>;
    allPage: Database.Statement<[number, number], RawRow>;
    changesPage: Database.Statement<[number, number], RawChangeRow>;
    listRuns: Database.Statement<[], { run_id: string; last_seq: number }>;
  };
  private readonly appendTx: (runId: string, events: readonly ValidNewEvent[], expectedSeq: number) => AppendResult;

  private constructor(path: string, options: SqliteEventLogOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? 25;
    this.path = path;
    this.db = this.guard(() => new Database(path));
    try {
      // busy_timeout first: the WAL switch itself needs a lock another process may hold.
      this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 10_000))}`);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
      this.db.exec(SCHEMA);
    } catch (error) {
      this.db.close();
      throw sqliteFault(error, path, 'event log');
    }
    this.stmt = {
      lastSeq: this.db.prepare('SELECT MAX(seq) AS seq FROM events WHERE run_id = ?'),
      insert: this.db.prepare(
        `INSERT INTO events (run_id, seq, event_id, type, actor, time, payload, from_state, to_state, changes, schema_version)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      idsFrom: this.db.prepare('SELECT seq, event_id FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?'),
      runPage: this.raw<[string, number, number], RawRow>(`SELECT ${COLUMNS} FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?`),
      allPage: this.raw<[number, number], RawRow>(`SELECT ${COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`),
      changesPage: this.raw<[number, number], RawChangeRow>(`SELECT ${CHANGE_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`),
      listRuns: this.db.prepare('SELECT run_id, MAX(seq) AS last_seq FROM events GROUP BY run_id ORDER BY run_id'),
    };
    const tx = this.db.transaction((runId: string, events: readonly ValidNewEvent[], expectedSeq: number): AppendResult => {
      const actual = this.stmt.lastSeq.get(runId)?.seq ?? 0;
      if (actual !== expectedSeq) {
        if (actual > expectedSeq && events.length > 0 && this.isStoredBatch(runId, events, expectedSeq)) {
          return { runId, firstSeq: expectedSeq + 1, lastSeq: expectedSeq + events.length, duplicate: true };
        }
        throw new VersionConflictError(runId, expectedSeq, actual);
      }
      let seq = expectedSeq;
      const positions: number[] = new Array(events.length);
      for (const event of events) {
        seq += 1;
        positions[seq - expectedSeq - 1] = Number(this.stmt.insert.run(
          runId,
          seq,
          event.eventId,
          event.type,
          event.actor,
          event.time,
          JSON.stringify(storedPayload(event)),
          event.from === null ? null : JSON.stringify(event.from),
          event.to === null ? null : JSON.stringify(event.to),
          JSON.stringify(event.changes),
          SCHEMA_VERSION,
        ).lastInsertRowid);
      }
      return { runId, firstSeq: expectedSeq + 1, lastSeq: seq, duplicate: false, positions };
    });
    this.appendTx = (runId, events, expectedSeq) => tx.immediate(runId, events, expectedSeq);
  }

  /** A statement returning rows as arrays (`.raw()`): no column-named object per row. */
  private raw<P extends unknown[], R>(sql: string): Database.Statement<P, R> {
    return (this.db.prepare(sql) as Database.Statement<P, R>).raw(true);
  }

  /** Opens (creating if needed) the log stored in the SQLite file at `path`. */
  static open(path: string, options: SqliteEventLogOptions = {}): SqliteEventLog {
    return new SqliteEventLog(path, options);
  }

  /** True when `events` are exactly the events stored after `expectedSeq` (an idempotent retry). */
  private isStoredBatch(runId: string, events: readonly ValidNewEvent[], expectedSeq: number): boolean {
    const stored = this.stmt.idsFrom.all(runId, expectedSeq, events.length);
    if (stored.length !== events.length) return false;
    return stored.every((row, i) => row.seq === expectedSeq + i + 1 && row.event_id === events[i]?.eventId);
  }

  /** Appends a batch atomically if the run is at `expectedSeq` (see `EventLog.append`). */
  async append(runId: string, events: readonly ValidNewEvent[], expectedSeq: number): Promise<AppendResult> {
    this.assertOpen();
    checkAppend(runId, events, expectedSeq);
    try {
      const result = this.appendTx(runId, events, expectedSeq);
      if (!result.duplicate && events.length > 0) this.wake();
      return result;
    } catch (error) {
      throw this.translate(error, runId);
    }
  }

  private translate(error: unknown, runId: string): unknown {
    if (error instanceof MatterStackError) return error;
    const code = (error as { code?: unknown }).code;
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
      // (run_id, seq) cannot collide inside BEGIN IMMEDIATE, so this is an event id stored elsewhere.
      return new MatterStackError('INVALID_EVENT', `run ${runId}: eventId already stored in the log (${String(error)})`, { runId }, { cause: error });
    }
    return sqliteFault(error, this.path, 'event log');
  }

  /** Runs a read of the file: a SQLite fault becomes STORAGE_ERROR naming the file. */
  private guard<T>(read: () => T): T {
    try {
      return read();
    } catch (error) {
      throw sqliteFault(error, this.path, 'event log');
    }
  }

  /** The run's events after `afterSeq`, read a page at a time (no cursor is held across yields). */
  async *readRun(runId: string, afterSeq = 0): AsyncIterable<StoredEvent> {
    let last = afterSeq;
    for (;;) {
      this.assertOpen();
      const rows = this.guard(() => this.stmt.runPage.all(runId, last, PAGE_SIZE));
      for (const row of rows) {
        const event = rawRowToEvent(row);
        if (event.seq !== last + 1) throw missingRecord(runId, last + 1, event.seq);
        last = event.seq;
        yield event;
      }
      if (rows.length < PAGE_SIZE) return;
    }
  }

  /** Every event after `afterPosition`, in append (rowid) order. */
  async *readAll(afterPosition = 0): AsyncIterable<StoredEvent> {
    let last = afterPosition;
    for (;;) {
      this.assertOpen();
      const rows = this.guard(() => this.stmt.allPage.all(last, READ_ALL_PAGE_SIZE));
      const count = rows.length;
      for (let i = 0; i < count; i++) {
        const row = rows[i]!;
        last = row[0];
        yield rawRowToEvent(row);
      }
      if (count < READ_ALL_PAGE_SIZE) return;
    }
  }

  /**
   * Like `readAll`, but only the columns a fold of the domain changes needs (no payload, from/to,
   * type or event id fetched or parsed; SQLite only checks that the payload is JSON), a page of
   * records at a time: what a projection rebuild reads. Every column read is validated as
   * `readAll` validates it: a corrupt record is INVALID_EVENT naming its run and sequence, never
   * skipped.
   */
  async *readAllChanges(afterPosition = 0): AsyncIterable<ChangeRecord[]> {
    let last = afterPosition;
    for (;;) {
      this.assertOpen();
      const records = this.changesPage(last, READ_ALL_PAGE_SIZE);
      const count = records.length;
      if (count > 0) {
        last = records[count - 1]!.position!;
        yield records;
      }
      if (count < READ_ALL_PAGE_SIZE) return;
    }
  }

  /** Up to `limit` change records after `afterPosition`, read in this thread. */
  private changesPage(afterPosition: number, limit: number): ChangeRecord[] {
    const rows = this.guard(() => this.stmt.changesPage.all(afterPosition, limit));
    const count = rows.length;
    const records = new Array<ChangeRecord>(count);
    for (let i = 0; i < count; i++) records[i] = rawChangeRowToRecord(rows[i]!);
    return records;
  }

  /**
   * Existing then new events. Appends from this instance wake followers at once; rows written
   * by other processes are found by polling every `pollIntervalMs`.
   */
  async *follow(options: FollowOptions = {}): AsyncIterable<StoredEvent> {
    const { runId, signal } = options;
    let last = runId === undefined ? (options.afterPosition ?? 0) : (options.afterSeq ?? 0);
    while (!this.closed && !signal?.aborted) {
      const rows = this.guard(() => (runId === undefined ? this.stmt.allPage.all(last, PAGE_SIZE) : this.stmt.runPage.all(runId, last, PAGE_SIZE)));
      for (const row of rows) {
        if (signal?.aborted || this.closed) return;
        const event = rawRowToEvent(row);
        if (runId !== undefined && event.seq !== last + 1) throw missingRecord(runId, last + 1, event.seq);
        last = runId === undefined ? row[0] : event.seq;
        yield event;
      }
      if (rows.length < PAGE_SIZE) await sleep(this.pollIntervalMs, this.waiters, signal);
    }
  }

  /** The run's last sequence, 0 for an unknown run. */
  async lastSeq(runId: string): Promise<number> {
    this.assertOpen();
    return this.guard(() => this.stmt.lastSeq.get(runId)?.seq ?? 0);
  }

  /**
   * Resolves at once: every append commits synchronously before it returns (with
   * `synchronous = FULL` the WAL is fsynced at commit), so there is never anything pending.
   */
  async flush(): Promise<void> {}

  /** Every run with at least one event, by run id. */
  async listRuns(): Promise<LoggedRun[]> {
    this.assertOpen();
    return this.guard(() => this.stmt.listRuns.all()).map((row) => {
      // Read back like any column: a damaged run id would name a run no read can find.
      if (typeof row.run_id !== 'string' || !isValidId(row.run_id)) throw invalidStoredRecord(row.run_id, row.last_seq, 'run_id: must be 1-64 letters, digits, "_" or "-"');
      if (!Number.isSafeInteger(row.last_seq) || row.last_seq < 1) throw invalidStoredRecord(row.run_id, row.last_seq, 'seq: must be a positive integer');
      return { runId: row.run_id, lastSeq: row.last_seq };
    });
  }

  /** Closes the file; followers end. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake();
    this.db.close();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private assertOpen(): void {
    if (this.closed) throw new MatterStackError('LOG_UNAVAILABLE', 'the event log is closed');
  }
}
